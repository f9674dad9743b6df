// The agent detail page in a real browser (issue 12 item 7): headless Debian Chromium driven by
// playwright-core against `wrangler dev` (scripts/test.sh starts it).
//
// Set up over HTTP with the public API: a PRO overseer (signed webhook), an agent it claims (DPoP
// proof), an OAuth client with an Ed25519 key, the agent's consent and the client's code exchange
// (private_key_jwt). Then, in the browser, the overseer logs in, goes by keyboard from the
// Dashboard to the agent's page, sees the live grant and revokes it (Revoke, then the focused
// confirmation); the client's refresh token is then refused with `invalid_grant`. The same page
// at phone width. Same checks as browser.test.mjs: no console or page errors, no failed, refused
// or off-site requests, labelled controls, one h1, no horizontal overflow. The page checks are
// the same as browser.test.mjs's, kept here so that the journeys of each slice stay in their own
// file.

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes, randomUUID, webcrypto } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import {
  Agent, b64u, boundedFetch, deliverWebhook, jsonOk, originFromEnv, subscriptionActivated, subscriptionCustomData,
} from './lib/agentid.mjs'

const { subtle } = webcrypto
const BASE = originFromEnv('AGENT_ID_BASE_URL', { required: true })
const OUT = join(process.env.AGENT_ID_TEST_OUTPUT || fileURLToPath(new URL('../test-output', import.meta.url)), 'screenshots')
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const PASSWORD = 'correct horse battery staple'
const REDIRECT = 'https://app.example.test/callback'
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

let browser
before(async () => {
  mkdirSync(OUT, { recursive: true })
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 })
})
after(async () => { await browser?.close() })

/** A fresh context and page recording console errors, page errors, failed, refused and off-site requests. */
async function openPage () {
  const context = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 900 } })
  const seen = { consoleErrors: [], pageErrors: [], failed: [], refused: [], offsite: [] }
  await context.route('**/*', async (route) => {
    const url = route.request().url()
    if (url === BASE || url.startsWith(BASE + '/')) return route.continue()
    seen.offsite.push(url)
    return route.abort('blockedbyclient')
  })
  const page = await context.newPage()
  page.setDefaultTimeout(15000)
  page.on('console', (m) => { if (m.type() === 'error') seen.consoleErrors.push(m.text()) })
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)))
  page.on('requestfailed', (r) => seen.failed.push(`${r.method()} ${r.url()} ${r.failure()?.errorText}`))
  page.on('response', (r) => {
    if (r.status() >= 400) seen.refused.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`)
  })
  return { context, page, seen }
}

function assertClean (seen) {
  assert.deepEqual(seen.pageErrors, [], 'uncaught errors in the page')
  assert.deepEqual(seen.offsite, [], 'requests outside the server origin')
  assert.deepEqual(seen.failed, [], 'failed requests')
  assert.deepEqual(seen.refused, [], 'refused requests')
  assert.deepEqual(seen.consoleErrors, [], 'console errors')
}

/** Names for every control, one h1, a lang, no horizontal overflow. */
async function shot (page, name) {
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
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true })
}

/** Presses Tab until `selector` has focus. */
async function tabTo (page, selector, max = 40) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab')
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return
  }
  assert.fail(`${selector} not reached with ${max} Tab presses`)
}

/** An OAuth client with an Ed25519 key, authenticating with private_key_jwt. */
class OAuthApp {
  static async register (http, session, name) {
    const app = new this(http)
    app.keys = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])
    const x = b64u(await subtle.exportKey('raw', app.keys.publicKey))
    const body = { name, redirect_uris: [REDIRECT], public_key: x, scope: 'id name', dpop_bound_access_tokens: false,
      token_endpoint_auth_method: 'private_key_jwt' }
    app.id = (await jsonOk(await http(`${BASE}/v1/clients/register/overseer`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` }, body: JSON.stringify(body),
    }), 201, 'client registration')).client.id
    return app
  }

  constructor (http) { this.http = http }

  async token (params) {
    const now = Math.floor(Date.now() / 1000)
    const payload = { iss: this.id, sub: this.id, aud: `${BASE}/v1/oauth/token`, iat: now, exp: now + 60, jti: randomUUID() }
    const input = `${b64u(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' }))}.${b64u(JSON.stringify(payload))}`
    const assertion = `${input}.${b64u(await subtle.sign('Ed25519', this.keys.privateKey, Buffer.from(input)))}`
    const form = new URLSearchParams({ client_assertion_type: ASSERTION_TYPE, client_assertion: assertion, ...params })
    return this.http(`${BASE}/v1/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() })
  }
}

test('overseer: the agent detail page lists a live grant and revokes it', async () => {
  const http = boundedFetch(BASE)
  const email = `grants-${randomUUID().slice(0, 8)}@example.test`
  const signedUp = await jsonOk(await http(`${BASE}/v1/overseers/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Grant Keeper', email, password: PASSWORD }),
  }), 201, 'overseer sign-up')
  const overseer = signedUp.overseer
  const session = signedUp.session_id
  const custom = subscriptionCustomData(overseer.id, 'PRO')
  await deliverWebhook(BASE, http, subscriptionActivated(custom.price_id, custom))
  const agent = await Agent.register(BASE, http, 'Travel Agent', 'Books trains')
  const claim = await jsonOk(await http(`${BASE}/v1/agents/claim/initiate`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` },
    body: JSON.stringify({ agent_id: agent.id }),
  }), 200, 'claim initiate')
  await agent.completeClaim(claim.challenge_id, overseer.id)
  const app = await OAuthApp.register(http, session, 'Calendar App')
  const verifier = b64u(randomBytes(32))
  const approved = await jsonOk(await http(`${BASE}/v1/oauth/authorize`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${agent.sessionId}` },
    body: JSON.stringify({ client_id: app.id, redirect_uri: REDIRECT, scope: 'id name', state: 's',
      code_challenge: b64u(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256' }),
  }), 200, 'agent consent')
  const exchanged = await app.token({ grant_type: 'authorization_code', code: approved.code, redirect_uri: REDIRECT, code_verifier: verifier })
  const exchangedText = await exchanged.text()
  assert.equal(exchanged.status, 200, exchangedText)
  const tokens = JSON.parse(exchangedText)

  const { context, page, seen } = await openPage()
  try {
    await page.goto('/login')
    await page.getByLabel('E-mail').fill(email)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor()

    // Keyboard only from the Dashboard to the agent's page.
    await page.getByRole('link', { name: 'Travel Agent' }).waitFor()
    await tabTo(page, `a[href="/agents/${agent.id}"]`)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Travel Agent' }).waitFor()
    const grants = page.getByRole('table', { name: 'Live grants of Travel Agent' })
    await grants.getByRole('cell', { name: new RegExp(`^Calendar App ${app.id}$`) }).waitFor()
    const activity = page.getByRole('table', { name: 'Recent activity' })
    await activity.getByRole('row').filter({ hasText: 'claim.completed' }).first().waitFor()
    await shot(page, 'agent-detail')

    await tabTo(page, 'tr[data-grant-id] button.danger-outline')
    await page.keyboard.press('Enter')
    const confirm = page.getByRole('button', { name: 'Yes, revoke' })
    await confirm.waitFor()
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Yes, revoke')
    await page.keyboard.press('Enter')
    await page.getByText('No live grants.').waitFor()

    // The client's refresh now fails.
    const refreshed = await app.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })
    assert.equal(refreshed.status, 400)
    assert.equal((await refreshed.json()).error, 'invalid_grant')
    await page.reload()
    await activity.getByRole('row').filter({ hasText: 'oauth.grant_revoked' }).first().waitFor()

    await page.setViewportSize({ width: 390, height: 844 })
    await page.getByText('No live grants.').waitFor()
    await shot(page, 'agent-detail-phone')
    assertClean(seen)
  } finally {
    await context.close()
  }
})
