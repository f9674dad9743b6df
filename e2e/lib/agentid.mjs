// Shared plumbing of the Node end-to-end tests (oauth4webapi.test.mjs, browser.test.mjs): the
// server under test, bounded loopback fetches, the development vars, signed Paddle webhooks as
// Paddle would send them (api.md §7, vectors.md 5.8), and a small agent client (registration by
// signed challenge and DPoP proofs, api.md 9.2/9.3). Nothing here is derived from the server code.

import assert from 'node:assert/strict'
import { createHmac, randomBytes, randomUUID, webcrypto } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const { subtle } = webcrypto
export const TIMEOUT_MS = 5000

export const b64u = (bytes) => Buffer.from(bytes).toString('base64url')

/** An origin like http://127.0.0.1:8787 from the environment (scripts/test.sh exports them). */
export function originFromEnv (name, { required }) {
  const raw = process.env[name]
  if (!raw) {
    if (required) {
      throw new Error(`${name} is not set: start the server (wrangler dev --local) and export ` +
        `${name}=http://127.0.0.1:8787 (scripts/test.sh does this)`)
    }
    return undefined
  }
  const url = new URL(raw.trim())
  if (!['http:', 'https:'].includes(url.protocol) || url.pathname !== '/' || url.search || url.hash) {
    throw new Error(`${name} must be an origin like http://127.0.0.1:8787 (got ${raw})`)
  }
  if (!['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname)) {
    throw new Error(`${name} must be a loopback origin: the tests send traffic only to loopback (got ${raw})`)
  }
  return url.origin
}

/** fetch bound to one origin, with a timeout per request, never following redirects, recorded. */
export function boundedFetch (base, log = []) {
  const fn = async (url, init = {}) => {
    const href = String(url)
    if (!(href === base || href.startsWith(base + '/'))) {
      throw new Error(`refusing to send a request outside the base URL: ${href}`)
    }
    const response = await fetch(href, { ...init, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) })
    if (response.status === 429) {
      throw new Error(`${init.method ?? 'GET'} ${href} answered 429: the e2e server must run with opened-up rate limits`)
    }
    log.push({ url: new URL(href), method: init.method ?? 'GET', headers: new Headers(init.headers ?? {}), body: init.body, status: response.status, responseHeaders: response.headers })
    return response
  }
  fn.log = log
  fn.last = (path) => {
    for (let i = log.length - 1; i >= 0; i--) if (log[i].url.pathname === path) return log[i]
    throw new Error(`no recorded exchange with ${path}`)
  }
  fn.all = (path) => log.filter((e) => e.url.pathname === path)
  return fn
}

export async function describeResponse (response) {
  let text = ''
  try { text = await response.clone().text() } catch {}
  return `${response.status} ${JSON.stringify(Object.fromEntries(response.headers))} ${text.slice(0, 500)}`
}

export async function jsonOk (response, status, what) {
  if (response.status !== status) {
    throw new assert.AssertionError({ message: `${what}: expected ${status}, got ${await describeResponse(response)}` })
  }
  return response.json()
}

/** The server's development vars (webhook secret, price ids): AGENT_ID_ENV_FILE or ../.dev.vars.example. */
export function loadDevVars () {
  const path = process.env.AGENT_ID_ENV_FILE || fileURLToPath(new URL('../../.dev.vars.example', import.meta.url))
  const vars = {}
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || !line.includes('=')) continue
    const i = line.indexOf('=')
    let value = line.slice(i + 1).trim()
    if (value.length >= 2 && value[0] === value.at(-1) && (value[0] === '"' || value[0] === "'")) value = value.slice(1, -1)
    vars[line.slice(0, i).trim()] = value
  }
  return vars
}
export const DEV_VARS = loadDevVars()

/** Paddle's timestamp style: microseconds. */
export function paddleTime (ms) {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
}

/** `link_sig` key (api.md 7.3): WEBHOOK_LINK_SECRET, or derived from SHADOW_SECRET. */
function linkKey () {
  return DEV_VARS.WEBHOOK_LINK_SECRET
    ? Buffer.from(DEV_VARS.WEBHOOK_LINK_SECRET, 'utf8')
    : createHmac('sha256', DEV_VARS.SHADOW_SECRET).update('agent-id/webhook-link/v1').digest()
}

/** Signs a webhook body as Paddle does: `Paddle-Signature: ts=…;h1=HMAC(ts:body)`. */
export function signWebhook (event) {
  const body = JSON.stringify(event)
  const ts = String(Math.floor(Date.now() / 1000))
  const h1 = createHmac('sha256', DEV_VARS.PADDLE_WEBHOOK_SECRET).update(`${ts}:${body}`).digest('hex')
  return { body, signature: `ts=${ts};h1=${h1}` }
}

/** The `custom_data` our upgrade endpoint would hand to a checkout, made independently (7.3). */
export function subscriptionCustomData (overseerId, tier = 'PRO') {
  const priceId = DEV_VARS[`PADDLE_PRICE_ID_${tier}`]
  const nonce = b64u(randomBytes(16))
  const linkSig = createHmac('sha256', linkKey()).update(`sub|${overseerId}|${priceId}|${nonce}`).digest('base64url')
  return { overseer_id: overseerId, tier, price_id: priceId, nonce, link_sig: linkSig }
}

/** A signed `subscription.activated` event for a checkout's price and custom data (7.2-7.4). */
export function subscriptionActivated (priceId, customData) {
  const now = Date.now()
  const suffix = randomUUID().replaceAll('-', '')
  return signWebhook({
    event_id: `evt_e2ejs${suffix}`,
    event_type: 'subscription.activated',
    occurred_at: paddleTime(now),
    notification_id: `ntf_e2ejs${suffix}`,
    data: {
      id: `sub_e2ejs${suffix}`,
      status: 'active',
      customer_id: `ctm_e2ejs${suffix}`,
      items: [{ price: { id: priceId }, quantity: 1 }],
      current_billing_period: { starts_at: paddleTime(now - 86400e3), ends_at: paddleTime(now + 29 * 86400e3) },
      next_billed_at: paddleTime(now + 29 * 86400e3),
      scheduled_change: null,
      custom_data: customData,
    },
  })
}

/** A signed one-time `transaction.completed` event (the shadow-claim payment, 5.5). */
export function transactionCompleted (priceId, customData) {
  const suffix = randomUUID().replaceAll('-', '')
  return signWebhook({
    event_id: `evt_e2ejs${suffix}`,
    event_type: 'transaction.completed',
    occurred_at: paddleTime(Date.now()),
    notification_id: `ntf_e2ejs${suffix}`,
    data: {
      id: `txn_e2ejs${suffix}`,
      status: 'completed',
      customer_id: `ctm_e2ejs${suffix}`,
      subscription_id: null,
      items: [{ price: { id: priceId }, quantity: 1 }],
      custom_data: customData,
    },
  })
}

/** Posts a signed webhook and checks that it was applied. */
export async function deliverWebhook (base, http, { body, signature }) {
  const hook = await jsonOk(await http(`${base}/v1/webhooks/paddle`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'paddle-signature': signature }, body,
  }), 200, 'signed Paddle webhook (api.md 2.10, §7)')
  assert.equal(hook.received, true, `webhook not received: ${JSON.stringify(hook)}`)
  assert.ok(!hook.ignored && !hook.duplicate, `webhook not applied: ${JSON.stringify(hook)}`)
  return hook
}

/** An agent (api.md 2.2): Ed25519 identity, registration by signed challenge, DPoP proofs (9.3). */
export class Agent {
  static async register (base, http, name, description) {
    const agent = new this(base, http)
    agent.name = name
    agent.keys = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])
    agent.x = b64u(await subtle.exportKey('raw', agent.keys.publicKey))
    const init = await jsonOk(await http(`${base}/v1/agents/register/initiate`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, description, public_key: agent.x }),
    }), 202, 'agent register/initiate')
    const signature = b64u(await subtle.sign('Ed25519', agent.keys.privateKey, Buffer.from(init.challenge_data, 'utf8')))
    const done = await jsonOk(await http(`${base}/v1/agents/register/complete/${init.challenge_id}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signature }),
    }), 201, 'agent register/complete')
    agent.id = done.agent.id
    agent.sessionId = done.session_id
    return agent
  }

  constructor (base, http) { this.base = base; this.http = http }

  async proof (htm, path) {
    const header = { typ: 'dpop+jwt', alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519', x: this.x } }
    const payload = { jti: randomUUID(), htm, htu: this.base + path, iat: Math.floor(Date.now() / 1000) }
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`
    return `${input}.${b64u(await subtle.sign('Ed25519', this.keys.privateKey, Buffer.from(input)))}`
  }

  /** Accepts a claim (or confirms a shadow claim) with a DPoP proof alone (api.md 2.4/2.5). */
  async completeClaim (challengeId, overseerId) {
    const path = `/v1/agents/claim/complete/${challengeId}`
    return jsonOk(await this.http(this.base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', dpop: await this.proof('POST', path) },
      body: JSON.stringify({ overseer_id: overseerId }),
    }), 200, 'agent claim/complete with DPoP')
  }

  async me () {
    return jsonOk(await this.http(`${this.base}/v1/agents/me`, { headers: { authorization: `Bearer ${this.sessionId}` } }), 200, 'GET /v1/agents/me')
  }
}
