// The forgot-password journey in a real browser (issue 12): headless Chromium against `wrangler
// dev` serving the built frontend and the real wasm, whose production Resend mailer sends to the
// loopback recording mail server (AGENT_ID_MAIL_RECORDER_URL, started by scripts/test.sh). The
// journey follows the link of the e-mail the server actually sent. Same checks as the other
// journeys (e2e/lib/browser.mjs): no console errors, labelled controls, keyboard path, phone width.

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { boundedFetch, jsonOk, originFromEnv, TIMEOUT_MS } from './lib/agentid.mjs'
import { assertClean, focused, launchBrowser, openPage as openPageAt, shot, tabTo } from './lib/browser.mjs'

const BASE = originFromEnv('AGENT_ID_BASE_URL', { required: true })
const RECORDER = originFromEnv('AGENT_ID_MAIL_RECORDER_URL', { required: false })
const OLD_PASSWORD = 'correct horse battery staple'
const NEW_PASSWORD = 'a fresh horse for the browser'

let browser
before(async () => { browser = await launchBrowser() })
after(async () => { await browser?.close() })
const openPage = () => openPageAt(browser, BASE)

/** The newest recorded message of `kind` to `to`, waiting (bounded) for the send after the response. */
async function recordedMail (to, kind) {
  const deadline = Date.now() + 10000
  for (;;) {
    const response = await fetch(`${RECORDER}/messages?to=${encodeURIComponent(to)}`, { signal: AbortSignal.timeout(TIMEOUT_MS) })
    const found = (await jsonOk(response, 200, 'recorded mail')).messages.filter((m) => m.kind === kind)
    if (found.length) return found[found.length - 1]
    assert.ok(Date.now() < deadline, `no ${kind} e-mail to ${to} was recorded`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** The link to `path` in the message's text body; it must point at the server's own origin. */
function linkIn (mail, path) {
  const link = mail.text.split(/\s+/).find((w) => w.startsWith(`${BASE}${path}?token=`))
  assert.ok(link, `no ${path} link in ${JSON.stringify(mail.text)}`)
  return link
}

test('forgot password: request a link from the log-in page, reset by the e-mailed link, old sessions end', { skip: !RECORDER && 'AGENT_ID_MAIL_RECORDER_URL is not set' }, async () => {
  const http = boundedFetch(BASE)
  const email = `browser-mail-${randomUUID().slice(0, 8)}@example.test`
  const signUp = await jsonOk(await http(`${BASE}/v1/overseers/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Forgetful Overseer', email, password: OLD_PASSWORD }),
  }), 201, 'sign-up')
  const oldSession = signUp.session_id

  const { context, page, seen } = await openPage()
  try {
    // Log-in page → "Forgot password?" by keyboard.
    await page.goto('/login', { waitUntil: 'networkidle' })
    await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor()
    await tabTo(page, 'a[href="/forgot-password"]')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Forgot your password?' }).waitFor()
    await tabTo(page, '#forgot-email')
    await page.keyboard.type(email)
    await shot(page, 'forgot-password')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Check your e-mail' }).waitFor()
    assert.match(await page.getByRole('status').textContent(), new RegExp(`If an account uses ${email}`))
    await shot(page, 'forgot-password-sent')

    // The link of the e-mail the server sent.
    const mail = await recordedMail(email, 'password_reset')
    assert.equal(mail.subject, 'Reset your password')
    const link = linkIn(mail, '/reset-password')
    assert.ok(mail.html.includes(link), 'the HTML body carries the same link')
    await page.goto(link, { waitUntil: 'networkidle' })
    await page.getByRole('heading', { level: 1, name: 'Choose a new password' }).waitFor()
    await shot(page, 'reset-password')
    await tabTo(page, '#reset-password')
    await page.keyboard.type(NEW_PASSWORD)
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'reset-confirm')
    await page.keyboard.type(NEW_PASSWORD)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Password changed' }).waitFor()
    await shot(page, 'reset-password-done')

    // The session made before the reset is refused.
    const me = await http(`${BASE}/v1/overseers/me`, { headers: { authorization: `Bearer ${oldSession}` } })
    assert.equal(me.status, 401)

    // Log in with the new password; the reset link proved the address.
    await page.getByRole('link', { name: 'Log in with the new password' }).click()
    await page.getByLabel('E-mail').fill(email)
    await page.getByLabel('Password').fill(NEW_PASSWORD)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.waitForURL(`${BASE}/dashboard`)
    await page.getByTestId('email-status').filter({ hasText: 'verified' }).waitFor()
    assert.equal(await page.getByTestId('email-status').textContent(), `E-mail ${email} verified.`)

    // The same link again: the page says it is used and offers a new one.
    await page.goto(link, { waitUntil: 'networkidle' })
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD)
    await page.getByLabel('Repeat the new password').fill(NEW_PASSWORD)
    await page.getByRole('button', { name: 'Set new password' }).click()
    await page.getByRole('alert').filter({ hasText: 'This link is invalid, already used or expired.' }).waitFor()

    // Phone width.
    await page.setViewportSize({ width: 375, height: 800 })
    for (const path of ['/forgot-password', '/reset-password']) {
      await page.goto(path, { waitUntil: 'networkidle' })
      await page.getByRole('heading', { level: 1 }).waitFor()
      await shot(page, `${path.slice(1)}-mobile`)
    }

    assertClean(seen, [/^POST \/v1\/overseers\/password-reset\/complete 400$/])
  } finally {
    await context.close()
  }
})

test('verify e-mail: the link of the sign-up e-mail verifies the address', { skip: !RECORDER && 'AGENT_ID_MAIL_RECORDER_URL is not set' }, async () => {
  const http = boundedFetch(BASE)
  const email = `browser-verify-${randomUUID().slice(0, 8)}@example.test`
  await jsonOk(await http(`${BASE}/v1/overseers/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'New Overseer', email, password: OLD_PASSWORD }),
  }), 201, 'sign-up')
  const { context, page, seen } = await openPage()
  try {
    const link = linkIn(await recordedMail(email, 'email_verification'), '/verify-email')
    await page.goto(link, { waitUntil: 'networkidle' })
    await page.getByText('Your e-mail address is verified. Thank you!').waitFor()
    await shot(page, 'verify-email')
    assertClean(seen, [])
  } finally {
    await context.close()
  }
})
