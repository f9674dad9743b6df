// The billing portal and the payment-problem banner in a real browser (issue 12 items 5, 6):
// headless Debian Chromium driven by playwright-core against `wrangler dev` serving the built
// frontend and the real wasm, whose Paddle API is the loopback recording server
// (e2e/paddle_recorder.mjs, PADDLE_RECORDER_URL; scripts/test.sh starts both).
//
// One journey: an overseer signs up (sign-up creates its Paddle customer through the recorder),
// is subscribed by a signed webhook, opens "Manage billing" by keyboard and lands on exactly the
// portal URL the recorded Paddle API answered; back in the app, a signed
// `transaction.payment_failed` webhook makes the banner appear on every signed-in page, and its
// button opens the portal again. The same checks as browser.test.mjs: no console or page errors,
// no failed or off-site requests (the recorder's origin is the one allowed besides the server's:
// that is where the portal links point), labelled controls, one h1, keyboard path, phone width.
// The page-check helpers are those of browser.test.mjs, kept here so each journey file stands
// alone (that file is not imported: importing it would run its tests too).

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import {
  boundedFetch, DEV_VARS, deliverWebhook, originFromEnv, paddleTime, signWebhook, subscriptionActivated,
  subscriptionCustomData,
} from './lib/agentid.mjs'

const BASE = originFromEnv('AGENT_ID_BASE_URL', { required: true })
const RECORDER = originFromEnv('PADDLE_RECORDER_URL', { required: true })
const OUT = join(process.env.AGENT_ID_TEST_OUTPUT || fileURLToPath(new URL('../test-output', import.meta.url)), 'screenshots')
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const PASSWORD = 'correct horse battery staple'
const within = (origin, url) => url === origin || url.startsWith(origin + '/')

let browser
before(async () => {
  mkdirSync(OUT, { recursive: true })
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 })
})
after(async () => { await browser?.close() })

/** A fresh context and page watching console and page errors, failed, refused and off-site requests. */
async function openPage () {
  const context = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 900 } })
  const seen = { consoleErrors: [], pageErrors: [], failed: [], refused: [], offsite: [] }
  await context.route('**/*', async (route) => {
    const url = route.request().url()
    if (within(BASE, url) || within(RECORDER, url)) return route.continue()
    seen.offsite.push(url)
    return route.abort('blockedbyclient')
  })
  const page = await context.newPage()
  page.setDefaultTimeout(15000)
  page.on('console', (m) => { if (m.type() === 'error') seen.consoleErrors.push(m.text()) })
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)))
  page.on('requestfailed', (r) => seen.failed.push(`${r.method()} ${r.url()} ${r.failure()?.errorText}`))
  page.on('response', (r) => {
    if (r.status() >= 400) seen.refused.push(`${r.request().method()} ${r.url()} ${r.status()}`)
  })
  return { context, page, seen }
}

function assertClean (seen) {
  assert.deepEqual(seen.pageErrors, [], 'uncaught errors in the page')
  assert.deepEqual(seen.offsite, [], 'requests outside the server and recorder origins')
  assert.deepEqual(seen.failed, [], 'failed requests')
  assert.deepEqual(seen.refused, [], 'refused requests')
  assert.deepEqual(seen.consoleErrors, [], 'console errors')
}

/** Names for every control, one h1, a lang, and no horizontal overflow. */
async function assertAccessibleBasics (page, name) {
  const problems = await page.evaluate(() => {
    const out = []
    for (const el of document.querySelectorAll('input, textarea, select')) {
      if (!(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby'))) {
        out.push(`control without a label: ${el.outerHTML.slice(0, 100)}`)
      }
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (!el.textContent.trim() && !el.getAttribute('aria-label')) out.push(`control without a name: ${el.outerHTML.slice(0, 100)}`)
    }
    const h1 = document.querySelectorAll('h1').length
    if (h1 !== 1) out.push(`${h1} h1 elements`)
    if (!document.documentElement.lang) out.push('no lang on <html>')
    if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1) {
      out.push(`horizontal overflow: ${document.documentElement.scrollWidth} > ${document.documentElement.clientWidth}`)
    }
    return out
  })
  assert.deepEqual(problems, [], `accessibility basics on ${name}`)
}

async function shot (page, name) {
  await assertAccessibleBasics(page, name)
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true })
}

/** Presses Tab until `selector` has focus: the control is reachable by keyboard alone. */
async function tabTo (page, selector, max = 30) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab')
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return
  }
  assert.fail(`${selector} not reached with ${max} Tab presses`)
}

function nav (page, name) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true })
}

/** The recorded Paddle API calls (the recorder is loopback only). */
async function recorded () {
  const calls = await (await boundedFetch(RECORDER)(`${RECORDER}/__recorder/calls`)).json()
  return calls
}

/** The portal sessions the Worker asked the recorder for, for `customerId`. */
async function portalSessions (customerId) {
  return (await recorded()).filter((c) => c.method === 'POST' && c.path === `/customers/${customerId}/portal-sessions`)
}

async function paddleCustomer (page) {
  for (let i = 0; i < 100; i++) {
    const { overseer } = await (await page.request.get('/v1/overseers/me')).json()
    if (overseer.paddle_customer_id) return overseer.paddle_customer_id
    await page.waitForTimeout(100)
  }
  assert.fail('the sign-up created no Paddle customer within 10 s')
}

/** A signed `transaction.payment_failed` for the subscription, as Paddle sends it. */
function paymentFailed (subscriptionId) {
  const suffix = randomUUID().replaceAll('-', '')
  return signWebhook({
    event_id: `evt_e2ejs${suffix}`,
    event_type: 'transaction.payment_failed',
    occurred_at: paddleTime(Date.now()),
    notification_id: `ntf_e2ejs${suffix}`,
    data: {
      id: `txn_e2ejs${suffix}`, status: 'past_due', customer_id: `ctm_e2ejs${suffix}`,
      subscription_id: subscriptionId, items: [{ price: { id: DEV_VARS.PADDLE_PRICE_ID_PRO }, quantity: 1 }],
      custom_data: null,
    },
  })
}

test('billing: Manage billing opens the recorded portal session; a failed payment shows a banner with the way out', async () => {
  const http = boundedFetch(BASE)
  const { context, page, seen } = await openPage()
  const email = `billing-${randomUUID().slice(0, 8)}@example.test`
  try {
    await page.goto('/signup')
    await page.getByLabel('Your name').fill('Billing Overseer')
    await page.getByLabel('E-mail').fill(email)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByLabel('Password').press('Enter')
    await page.waitForURL(`${BASE}/dashboard`)
    const overseerId = (await (await page.request.get('/v1/overseers/me')).json()).overseer.id
    const customerId = await paddleCustomer(page)

    // Paddle confirms a PRO subscription (signed webhook; the link is signed as the server signs it).
    const custom = subscriptionCustomData(overseerId, 'PRO')
    const activated = subscriptionActivated(custom.price_id, custom)
    const subscriptionId = JSON.parse(activated.body).data.id
    await deliverWebhook(BASE, http, activated)

    // "Manage billing", by keyboard: the page goes to exactly the link Paddle (recorded) answered.
    await nav(page, 'Subscription').click()
    await page.getByTestId('current-tier').filter({ hasText: 'PRO' }).waitFor()
    await page.waitForLoadState('networkidle')
    assert.equal(await page.getByTestId('payment-banner').count(), 0, 'no banner while payments are fine')
    await shot(page, 'billing-subscription')
    await tabTo(page, '#manage-billing')
    await page.keyboard.press('Enter')
    await page.waitForURL((u) => within(RECORDER, u.href))
    await page.getByRole('heading', { level: 1, name: 'Paddle customer portal' }).waitFor()
    const [first] = await portalSessions(customerId)
    assert.ok(first?.authorized, 'the Worker called the portal API with its key')
    assert.equal(first.answer.status, 201)
    assert.equal(page.url(), first.answer.body.data.urls.general.overview)

    // Back in the app, Paddle reports a failed payment: the banner shows on every signed-in page.
    await page.goBack()
    await page.getByRole('heading', { level: 1, name: 'Subscription' }).waitFor()
    await deliverWebhook(BASE, http, paymentFailed(subscriptionId))
    await nav(page, 'Dashboard').click()
    const banner = page.getByRole('region', { name: 'Payment problem' })
    await banner.getByText('A payment for your subscription failed').waitFor()
    await shot(page, 'billing-banner-dashboard')
    await nav(page, 'Clients').click()
    await page.getByRole('heading', { level: 1, name: 'OAuth clients' }).waitFor()
    await banner.waitFor()
    await page.setViewportSize({ width: 375, height: 800 })
    await page.waitForLoadState('networkidle')
    await shot(page, 'billing-banner-mobile')

    // The banner's button opens a new portal session.
    await banner.getByRole('button', { name: 'Update payment method' }).click()
    await page.waitForURL((u) => within(RECORDER, u.href))
    const sessions = await portalSessions(customerId)
    assert.equal(sessions.length, 2)
    assert.equal(page.url(), sessions[1].answer.body.data.urls.general.overview)
    assert.notEqual(sessions[0].answer.body.data.id, sessions[1].answer.body.data.id, 'a fresh session each time')

    assertClean(seen)
  } finally {
    await context.close()
  }
})
