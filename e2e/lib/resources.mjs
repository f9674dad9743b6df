// Set-up of the issue-10 journeys through agent-id's public API only: a human overseer on a paid
// tier (signed Paddle webhook), an agent it oversees (claim with the agent's DPoP proof), a
// protected resource it registers (docs/resources.md "Protected resources"), and a fetch that
// reaches several loopback origins (agent-id and the test's own servers) and nothing else.

import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import {
  Agent, TIMEOUT_MS, deliverWebhook, jsonOk, subscriptionActivated, subscriptionCustomData,
} from './agentid.mjs'

export const PASSWORD = 'correct horse battery'

/** A human overseer with an account, on PRO (room for resources and clients). */
export async function paidOverseer (base, http, name = 'E2E Resource Owner') {
  const email = `e2e-res-${randomUUID().slice(0, 12)}@example.test`
  const signedUp = await jsonOk(await http(`${base}/v1/overseers/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, email, password: PASSWORD }),
  }), 201, 'overseer sign-up')
  const overseer = {
    id: signedUp.overseer.id, email, password: PASSWORD, session: signedUp.session_id,
    auth: { authorization: `Bearer ${signedUp.session_id}` },
  }
  const custom = subscriptionCustomData(overseer.id, 'PRO')
  await deliverWebhook(base, http, subscriptionActivated(custom.price_id, custom))
  return overseer
}

/** An agent the overseer oversees (claim initiated by the overseer, accepted by the agent's proof). */
export async function claimedAgent (base, http, overseer, name, description = 'acts through MCP servers') {
  const agent = await Agent.register(base, http, name, description)
  const claim = await jsonOk(await http(`${base}/v1/agents/claim/initiate`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...overseer.auth },
    body: JSON.stringify({ agent_id: agent.id }),
  }), 200, 'claim initiate')
  await agent.completeClaim(claim.challenge_id, overseer.id)
  return agent
}

/** Registers a protected resource (POST /v1/overseers/me/resources); returns the Resource. */
export async function registerResource (base, http, overseer, { uri, name, scopes, dpop = false, alg = 'EdDSA' }) {
  const body = await jsonOk(await http(`${base}/v1/overseers/me/resources`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...overseer.auth },
    body: JSON.stringify({ uri, name, scopes, dpop_bound_access_tokens: dpop, access_token_alg: alg }),
  }), 201, 'resource registration')
  const resource = body.resource ?? body
  assert.equal(resource.uri, uri, JSON.stringify(body))
  assert.ok(resource.metadata_url?.startsWith(`${base}/`), `metadata_url on agent-id: ${JSON.stringify(body)}`)
  return resource
}

/**
 * fetch restricted to the given loopback origins, with a timeout per request, never following
 * redirects; every exchange is recorded in `.log` ({ method, url, status }).
 */
export function loopbackFetch (origins) {
  const allowed = origins.map((o) => new URL(o).origin)
  for (const origin of allowed) {
    if (!/^http:\/\/(127\.0\.0\.1|\[::1\])(:\d+)?$/.test(origin)) throw new Error(`not a loopback origin: ${origin}`)
  }
  const log = []
  const fn = async (url, init = {}) => {
    const href = url instanceof Request ? url.url : String(url)
    if (!allowed.includes(new URL(href).origin)) throw new Error(`refusing to send a request outside loopback test origins: ${href}`)
    const response = await fetch(url, { ...init, redirect: 'manual', signal: init.signal ?? AbortSignal.timeout(TIMEOUT_MS) })
    log.push({ method: init.method ?? (url instanceof Request ? url.method : 'GET'), url: new URL(href), status: response.status })
    return response
  }
  fn.log = log
  return fn
}
