// Consent by the overseer in a real browser (issue 10 item 5): headless Debian Chromium driven by
// playwright-core against the real wasm in `wrangler dev` (scripts/test.sh starts it).
//
// Set up over HTTP with the public API: a PRO overseer (signed webhook), an agent it claims (DPoP
// proof), and an OAuth client with an Ed25519 key whose redirect URI is a tiny loopback server of
// this test that records what the browser brings it. Then the browser opens the client's
// authorization URL with no agent credential at all:
//   * approve: agent-id sends it to the consent page, which asks the overseer to log in and comes
//     back, the overseer picks the agent and approves (e2e/lib/consent.mjs, reused by the MCP SDK
//     journey), the browser arrives at the redirect URI with `code`, `state` and `iss`; the client
//     redeems the code (private_key_jwt) and the token works at userinfo; the agent's history says
//     "consented by the overseer".
//   * deny, by keyboard alone and at phone width, signed in beforehand: the page can't be framed
//     (CSP frame-ancestors 'none', X-Frame-Options DENY), and the browser arrives with
//     `error=access_denied`.
// Same checks as the other journeys: no console or page errors, no failed, refused or off-site
// requests beyond the expected ones, labelled controls, one h1, no horizontal overflow.

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes, randomUUID, webcrypto } from 'node:crypto'
import { createServer } from 'node:http'
import {
  Agent, b64u, boundedFetch, deliverWebhook, jsonOk, originFromEnv, subscriptionActivated, subscriptionCustomData,
} from './lib/agentid.mjs'
import { assertClean, launchBrowser, openPage, shot, tabTo } from './lib/browser.mjs'
import { consentInBrowser } from './lib/consent.mjs'

const { subtle } = webcrypto
const BASE = originFromEnv('AGENT_ID_BASE_URL', { required: true })
const PASSWORD = 'correct horse battery staple'
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** The client's redirect URI: a loopback server that records each request's query. */
let callback
let browser
before(async () => {
  browser = await launchBrowser()
  const arrivals = []
  const server = createServer((req, res) => {
    arrivals.push(new URL(req.url, 'http://127.0.0.1'))
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end('<!doctype html><html lang="en"><title>Client</title><h1>Back at the client</h1></html>')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${server.address().port}`
  callback = { server, arrivals, origin, uri: `${origin}/callback` }
})
after(async () => {
  await browser?.close()
  await new Promise((resolve) => callback?.server.close(resolve))
})

/** A PRO overseer that oversees a new agent, and a client redirecting to the loopback server. */
async function world (http, label) {
  const email = `consent-${label}-${randomUUID().slice(0, 8)}@example.test`
  const signedUp = await jsonOk(await http(`${BASE}/v1/overseers/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Consent Giver', email, password: PASSWORD }),
  }), 201, 'overseer sign-up')
  const session = signedUp.session_id
  const custom = subscriptionCustomData(signedUp.overseer.id, 'PRO')
  await deliverWebhook(BASE, http, subscriptionActivated(custom.price_id, custom))
  const agentName = `Research Agent ${label}`
  const agent = await Agent.register(BASE, http, agentName, 'Reads papers')
  const claim = await jsonOk(await http(`${BASE}/v1/agents/claim/initiate`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` },
    body: JSON.stringify({ agent_id: agent.id }),
  }), 200, 'claim initiate')
  await agent.completeClaim(claim.challenge_id, signedUp.overseer.id)
  const app = await OAuthApp.register(http, session, `MCP Host ${label}`)
  return { email, agent, agentName, app }
}

/** An OAuth client with an Ed25519 key, authenticating with private_key_jwt. */
class OAuthApp {
  static async register (http, session, name) {
    const app = new this(http)
    app.keys = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])
    app.x = b64u(await subtle.exportKey('raw', app.keys.publicKey))
    const body = { name, redirect_uris: [callback.uri], public_key: app.x, scope: 'id name' }
    app.id = (await jsonOk(await http(`${BASE}/v1/clients/register/overseer`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` }, body: JSON.stringify(body),
    }), 201, 'client registration')).client.id
    app.verifier = b64u(randomBytes(32))
    return app
  }

  constructor (http) { this.http = http }

  authorizeUrl (state) {
    const q = new URLSearchParams({
      response_type: 'code', client_id: this.id, redirect_uri: callback.uri, scope: 'id name', state,
      code_challenge: b64u(createHash('sha256').update(this.verifier).digest()), code_challenge_method: 'S256',
    })
    return `${BASE}/v1/oauth/authorize?${q}`
  }

  async sign (header, payload) {
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`
    return `${input}.${b64u(await subtle.sign('Ed25519', this.keys.privateKey, Buffer.from(input)))}`
  }

  async token (params) {
    const now = Math.floor(Date.now() / 1000)
    const assertion = await this.sign({ alg: 'EdDSA', typ: 'JWT' },
      { iss: this.id, sub: this.id, aud: `${BASE}/v1/oauth/token`, iat: now, exp: now + 60, jti: randomUUID() })
    const form = new URLSearchParams({ client_assertion_type: ASSERTION_TYPE, client_assertion: assertion, ...params })
    return this.http(`${BASE}/v1/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() })
  }

  /** userinfo with the access token bound to the client's key (a DPoP proof by that key). */
  async userinfo (access, nonce) {
    const claims = { jti: randomUUID(), htm: 'GET', htu: `${BASE}/v1/oauth/userinfo`, iat: Math.floor(Date.now() / 1000),
      ath: b64u(createHash('sha256').update(access).digest()), ...(nonce ? { nonce } : {}) }
    const proof = await this.sign({ typ: 'dpop+jwt', alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519', x: this.x } }, claims)
    const r = await this.http(`${BASE}/v1/oauth/userinfo`, { headers: { authorization: `DPoP ${access}`, dpop: proof } })
    if (r.status === 401 && !nonce && r.headers.get('dpop-nonce')) return this.userinfo(access, r.headers.get('dpop-nonce'))
    return r
  }
}

/** Lets the browser reach the client's loopback redirect URI (openPage refuses other origins). */
async function allowCallback (context) {
  await context.route(`${callback.origin}/**`, (route) => route.continue())
}

/** The server recorded the browser's arrival at the redirect URI with this `state`. */
async function arrivalWith (state) {
  for (let i = 0; i < 50; i++) {
    const found = callback.arrivals.find((u) => u.searchParams.get('state') === state)
    if (found) return found
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail(`the browser never reached ${callback.uri} with state ${state}`)
}

test('overseer consent: from the authorization URL through log-in and approval to a working token', async () => {
  const http = boundedFetch(BASE)
  const { email, agent, agentName, app } = await world(http, 'approve')
  const { context, page, seen } = await openPage(browser, BASE)
  await allowCallback(context)
  try {
    const state = `s-${randomUUID()}`
    const sent = await consentInBrowser(page, {
      authorizeUrl: app.authorizeUrl(state), email, password: PASSWORD, agentName, redirectUri: callback.uri,
    })
    assert.equal(sent.origin + sent.pathname, callback.uri)
    const arrived = await arrivalWith(state)
    assert.equal(arrived.searchParams.get('iss'), new URL(BASE).origin)
    const code = arrived.searchParams.get('code')
    assert.ok(code, `no code in ${arrived}`)
    await page.getByRole('heading', { level: 1, name: 'Back at the client' }).waitFor()

    const exchanged = await app.token({ grant_type: 'authorization_code', code, redirect_uri: callback.uri, code_verifier: app.verifier })
    const text = await exchanged.text()
    assert.equal(exchanged.status, 200, text)
    const tokens = JSON.parse(text)
    assert.equal(tokens.scope, 'id name')
    const me = await app.userinfo(tokens.access_token)
    const meText = await me.text()
    assert.equal(me.status, 200, meText)
    assert.equal(JSON.parse(meText).sub, agent.id)

    const history = await jsonOk(await http(`${BASE}/v1/agents/me/oauth-history`, {
      headers: { authorization: `Bearer ${agent.sessionId}` },
    }), 200, 'agent history')
    assert.deepEqual([history.history[0].status, history.history[0].consented_by], ['approved', 'overseer'])
    // Before logging in, the app's session check is refused once.
    assertClean(seen, [/^GET \/v1\/overseers\/me 401$/])
  } finally {
    await context.close()
  }
})

test('overseer consent: deny by keyboard at phone width, on a page that cannot be framed', async () => {
  const http = boundedFetch(BASE)
  const { email, agentName, app, agent } = await world(http, 'deny')
  const { context, page, seen } = await openPage(browser, BASE)
  await allowCallback(context)
  try {
    await page.goto('/login')
    await page.getByLabel('E-mail').fill(email)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor()
    await page.waitForLoadState('networkidle') // the dashboard's own reads end before we leave it

    const state = `s-${randomUUID()}`
    const served = await page.goto(app.authorizeUrl(state))
    assert.equal(new URL(page.url()).pathname, '/consent')
    assert.equal(served.headers()['x-frame-options'], 'DENY')
    assert.match(served.headers()['content-security-policy'], /frame-ancestors 'none'/)
    await page.getByRole('heading', { level: 1, name: 'Authorize MCP Host deny' }).waitFor()
    await page.getByRole('radio', { name: agentName }).waitFor()
    await shot(page, 'consent')

    await page.setViewportSize({ width: 390, height: 844 })
    await shot(page, 'consent-phone')
    await tabTo(page, `input[type=radio][value="${agent.id}"]`)
    await page.keyboard.press('Space')
    assert.equal(await page.getByRole('radio', { name: agentName }).isChecked(), true)
    await tabTo(page, 'button[type=button]')
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Deny')
    await page.keyboard.press('Enter')

    const arrived = await arrivalWith(state)
    assert.equal(arrived.searchParams.get('error'), 'access_denied')
    assert.equal(arrived.searchParams.get('code'), null)
    assert.equal(arrived.searchParams.get('iss'), new URL(BASE).origin)
    const history = await jsonOk(await http(`${BASE}/v1/agents/me/oauth-history`, {
      headers: { authorization: `Bearer ${agent.sessionId}` },
    }), 200, 'agent history')
    assert.deepEqual([history.history[0].status, history.history[0].reason, history.history[0].consented_by],
      ['denied', 'overseer_denied', 'overseer'])
    assertClean(seen, [])
  } finally {
    await context.close()
  }
})
