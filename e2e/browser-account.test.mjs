// The Settings page in a real browser (headless Chromium against `wrangler dev` serving the built
// frontend and the real wasm API): an overseer signs up, finds Settings in the navigation, sees
// its two sessions and ends the other one (which the API then refuses), changes the password by
// keyboard alone, checks the export download, and deletes the account after a refused attempt
// with a wrong password. Same checks as the other journeys: no console errors, labelled controls,
// keyboard path, phone width.

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { boundedFetch, originFromEnv } from './lib/agentid.mjs'
import { assertClean, focused, launchBrowser, nav, openPage, shot, tabTo } from './lib/browser.mjs'

const BASE = originFromEnv('AGENT_ID_BASE_URL', { required: true })

const PASSWORD = 'correct horse battery staple'
const NEW_PASSWORD = 'a different horse entirely'

let browser
before(async () => { browser = await launchBrowser() })
after(async () => { await browser?.close() })

test('overseer: settings: sessions, password change, export, account deletion', async () => {
  const http = boundedFetch(BASE)
  const { context, page, seen } = await openPage(browser, BASE)
  const email = `browser-settings-${randomUUID().slice(0, 8)}@example.test`
  try {
    await page.goto('/signup', { waitUntil: 'networkidle' })
    await page.getByLabel('Your name').fill('Settings Overseer')
    await page.getByLabel('E-mail').fill(email)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.waitForURL(`${BASE}/dashboard`)

    // Another device logs in: its session shows up, and ending it here refuses it at once.
    const other = await http(BASE + '/v1/overseers/login', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }),
    })
    assert.equal(other.status, 200)
    const otherSession = (await other.json()).session_id
    await nav(page, 'Settings').click()
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor()
    const list = page.getByRole('list', { name: 'Active sessions' })
    await list.getByRole('listitem').nth(1).waitFor()
    assert.equal(await list.getByRole('listitem').count(), 2)
    assert.equal(await list.getByText('This browser').count(), 1)
    await shot(page, 'settings')
    await list.getByRole('button', { name: /^End session:/ }).click()
    await page.getByRole('status').filter({ hasText: /^Signed out / }).waitFor()
    // The list is read again after the notice: wait for the ended session to leave it.
    await list.getByRole('listitem').nth(1).waitFor({ state: 'detached' })
    assert.equal(await list.getByRole('listitem').count(), 1)
    const refused = await http(BASE + '/v1/overseers/me', { headers: { authorization: `Bearer ${otherSession}` } })
    assert.equal(refused.status, 401)

    // Change the password by keyboard alone.
    await tabTo(page, '#current-password', 40)
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'new-password')
    await page.keyboard.type(NEW_PASSWORD)
    await page.keyboard.press('Enter')
    await page.getByRole('status').filter({ hasText: 'Password changed. 0 other sessions were signed out.' }).waitFor()
    const login = await http(BASE + '/v1/overseers/login', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: NEW_PASSWORD }),
    })
    assert.equal(login.status, 200, 'the new password works')

    // The export is a download of the account's JSON.
    const link = page.getByRole('link', { name: 'Download my data' })
    assert.equal(await link.getAttribute('href'), '/v1/overseers/me/export')
    const exported = await page.request.get('/v1/overseers/me/export')
    assert.equal(exported.status(), 200)
    assert.match(exported.headers()['content-disposition'], /^attachment;/)
    assert.equal((await exported.json()).overseer.email, email)

    // Phone width: the page still fits.
    await page.setViewportSize({ width: 375, height: 800 })
    await shot(page, 'settings-mobile')
    await page.setViewportSize({ width: 1280, height: 900 })

    // Delete: the consequences are on the page first; a wrong password is refused.
    const danger = page.getByRole('region', { name: 'Delete account' })
    for (const text of ['declaims every agent', 'cancels your paid subscription', 'signs out every session']) {
      assert.ok((await danger.textContent()).includes(text), text)
    }
    await danger.getByLabel(/I understand/).check()
    await danger.getByLabel('Password').fill('not the password')
    await danger.getByRole('button', { name: 'Delete my account' }).click()
    await danger.getByRole('alert').filter({ hasText: 'That is not your current password.' }).waitFor()
    await danger.getByLabel('Password').fill(NEW_PASSWORD)
    await danger.getByRole('button', { name: 'Delete my account' }).click()
    await page.waitForURL(`${BASE}/`)
    await page.getByText('Your account was deleted.').waitFor()
    await shot(page, 'account-deleted')
    assert.equal((await page.request.get('/v1/overseers/me')).status(), 401)
    const gone = await http(BASE + '/v1/overseers/login', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: NEW_PASSWORD }),
    })
    assert.equal(gone.status, 401, 'a deleted account cannot log in')

    // After the deletion the app leaves /settings while its state still says signed in, so the
    // payment banner's check on the page change may reach the server once and get 401 (the app
    // then drops the session state, as after any 401).
    assertClean(seen, [/^POST \/v1\/overseers\/me\/delete 403$/, /^POST \/v1\/overseers\/logout 401$/,
      /^GET \/v1\/subscriptions\/me 401$/])
  } finally {
    await context.close()
  }
})
