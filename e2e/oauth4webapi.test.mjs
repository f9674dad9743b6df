// OAuth 2.0 interoperability with an unmodified third-party client: npm `oauth4webapi`
// (node --test). The library does discovery (RFC 8414 and OpenID paths), PKCE S256, state, the
// DPoP-bound code (dpop_jkt from its own DPoP handle), validation of the authorization response
// (state and iss, RFC 9207), private_key_jwt with an Ed25519 CryptoKey (alg "Ed25519",
// aud = issuer, api.md 9.4), DPoP proofs with alg "Ed25519" (ath at userinfo), refresh,
// revocation and introspection. The agent's approval (api.md 2.11) is done by a small agent client
// below (registration and DPoP proofs per api.md 9.2/9.3), with the parameters the library produced.
//
// Set-up through the public API only (api.md 2.12): a human overseer is put on a paid tier by a
// correctly signed Paddle webhook (api.md §7, link_sig of 7.3), then registers the client
// (POST /v1/clients/register/overseer, 5.8). Environment: AGENT_ID_BASE_URL (required),
// AGENT_ID_NONCE_BASE_URL (server with DPOP_REQUIRE_NONCE=true; that test is skipped without it),
// AGENT_ID_ENV_FILE (dev vars with the webhook secret and price ids; default ../.dev.vars.example).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomUUID, webcrypto } from 'node:crypto'
import { createServer } from 'node:http'
import * as oauth from 'oauth4webapi'
import {
  Agent, b64u, boundedFetch, deliverWebhook, describeResponse, jsonOk, originFromEnv,
  subscriptionActivated, subscriptionCustomData,
} from './lib/agentid.mjs'

const { subtle } = webcrypto
const REDIRECT_URI = 'http://127.0.0.1:8790/callback'
const FULL_SCOPE = 'id name description pub_key subscription'
const AGENT_NAME = 'oauth4webapi agent'
const AGENT_DESCRIPTION = 'approves OAuth requests of oauth4webapi'
const DISCOVERY_PATHS = [
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/v1/oauth/.well-known/openid-configuration',
]
const ENDPOINT_MEMBERS = ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint',
  'revocation_endpoint', 'introspection_endpoint', 'jwks_uri']

const BASE = originFromEnv('AGENT_ID_BASE_URL', { required: true })
const NONCE_BASE = originFromEnv('AGENT_ID_NONCE_BASE_URL', { required: false })

const sha256b64u = (text) => createHash('sha256').update(text).digest('base64url')
const decodeJwt = (jwt) => {
  const [h, p] = jwt.split('.')
  return { header: JSON.parse(Buffer.from(h, 'base64url')), claims: JSON.parse(Buffer.from(p, 'base64url')) }
}

// ------------------------------------------------------------------------------------------------
// Set-up through the public API: paid overseer (signed webhook), client, agent
// ------------------------------------------------------------------------------------------------

async function paidOverseer (base, http) {
  const email = `e2e-o4w-${randomUUID().slice(0, 12)}@example.test`
  const signedUp = await jsonOk(await http(`${base}/v1/overseers/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'E2E oauth4webapi Overseer', email, password: 'correct horse battery' }),
  }), 201, 'overseer sign-up (api.md 2.6)')
  const overseer = { id: signedUp.overseer.id, auth: { authorization: `Bearer ${signedUp.session_id}` } }

  const custom = subscriptionCustomData(overseer.id, 'PRO')
  await deliverWebhook(base, http, subscriptionActivated(custom.price_id, custom))
  const { subscription } = await jsonOk(await http(`${base}/v1/subscriptions/me`, { headers: overseer.auth }), 200,
    'GET /v1/subscriptions/me')
  assert.equal(subscription.tier, 'PRO', `overseer not on PRO after the webhook: ${JSON.stringify(subscription)}`)
  assert.equal(subscription.is_active, true, JSON.stringify(subscription))
  return overseer
}

async function registerClient (base, http, overseer, publicKey, { name = 'oauth4webapi app', scope, dpopBound = true } = {}) {
  const body = {
    name,
    redirect_uris: [REDIRECT_URI],
    public_key: publicKey,
    token_endpoint_auth_method: 'private_key_jwt',
    dpop_bound_access_tokens: dpopBound,
  }
  if (scope) body.scope = scope
  const { client } = await jsonOk(await http(`${base}/v1/clients/register/overseer`, {
    method: 'POST', headers: { ...overseer.auth, 'content-type': 'application/json' }, body: JSON.stringify(body),
  }), 201, 'client registration (api.md 2.8)')
  assert.equal(client.public_key, publicKey)
  return client
}

/** The shared agent client, plus the approvals of an OAuth request (api.md 2.11). */
class OAuthAgent extends Agent {
  static register (base, http, name = AGENT_NAME, description = AGENT_DESCRIPTION) {
    return super.register(base, http, name, description)
  }

  /** POST /v1/oauth/authorize with the session (Bearer) or a DPoP proof; returns redirect_to. */
  async approvePost (params, mode = 'bearer') {
    const headers = { 'content-type': 'application/json' }
    if (mode === 'bearer') headers.authorization = `Bearer ${this.sessionId}`
    else headers.dpop = await this.proof('POST', '/v1/oauth/authorize')
    const body = await jsonOk(await this.http(`${this.base}/v1/oauth/authorize`, {
      method: 'POST', headers, body: JSON.stringify(params),
    }), 200, `POST /v1/oauth/authorize (${mode})`)
    assert.equal(body.success, true)
    assert.equal(body.code, body.authorization_code)
    assert.equal(body.iss, this.base)
    assert.equal(body.state, params.state)
    assert.equal(body.expires_in, 600)
    assert.ok(body.redirect_to.startsWith(`${REDIRECT_URI}?`), body.redirect_to)
    return body.redirect_to
  }

  /** GET /v1/oauth/authorize?… with a DPoP proof: 303 to the redirect URI (api.md 2.11). */
  async approveGet (authorizationUrl) {
    const response = await this.http(authorizationUrl.href, { headers: { dpop: await this.proof('GET', '/v1/oauth/authorize') } })
    assert.equal(response.status, 303, `GET authorize: ${await describeResponse(response)}`)
    const location = response.headers.get('location')
    assert.ok(location?.startsWith(`${REDIRECT_URI}?`), `Location: ${location}`)
    assert.equal(response.headers.get('cache-control'), 'no-store')
    assert.deepEqual(await response.json(), { success: true, redirect_to: location })
    return location
  }
}

function expectedUserinfo (agent, scope, oauthCount = 1) {
  const granted = scope.split(' ')
  const claims = { sub: agent.id }
  if (granted.includes('id')) claims.id = agent.id
  if (granted.includes('name')) claims.name = AGENT_NAME
  if (granted.includes('description')) claims.description = AGENT_DESCRIPTION
  if (granted.includes('pub_key')) claims.public_key = agent.x
  if (granted.includes('subscription')) {
    Object.assign(claims, { tier: 'FREE', oauth_count: oauthCount, oauth_limit: 10, billing_period_end: null })
  }
  return claims
}

// ------------------------------------------------------------------------------------------------
// A relying party built on oauth4webapi
// ------------------------------------------------------------------------------------------------

const overseers = new Map()
function overseerFor (base) {
  if (!overseers.has(base)) overseers.set(base, paidOverseer(base, boundedFetch(base)))
  return overseers.get(base)
}

class RelyingParty {
  static async create (base, { name, dpopBound } = {}) {
    const rp = new RelyingParty()
    rp.base = base
    rp.http = boundedFetch(base)
    rp.options = { [oauth.customFetch]: rp.http, [oauth.allowInsecureRequests]: true } // http on loopback only
    const overseer = await overseerFor(base)
    rp.clientKeys = await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])
    const x = b64u(await subtle.exportKey('raw', rp.clientKeys.publicKey))
    rp.registered = await registerClient(base, boundedFetch(base), overseer, x, { name, dpopBound })
    const issuer = new URL(base)
    rp.as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...rp.options }))
    rp.client = { client_id: rp.registered.id }
    rp.clientAuth = oauth.PrivateKeyJwt(rp.clientKeys.privateKey) // alg "Ed25519", aud = issuer
    return rp
  }

  async newDPoP () {
    const keys = await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])
    return oauth.DPoP(this.client, keys)
  }

  /** Library-made authorization request parameters (PKCE S256, state, dpop_jkt of the DPoP handle). */
  async authorizationRequest (scope, dpop) {
    const codeVerifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const params = {
      response_type: 'code',
      client_id: this.client.client_id,
      redirect_uri: REDIRECT_URI,
      scope,
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      dpop_jkt: await dpop.calculateThumbprint(),
    }
    const url = new URL(this.as.authorization_endpoint)
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
    return { params, url, codeVerifier, state }
  }

  async exchange (callbackUrl, request, dpop) {
    const params = oauth.validateAuthResponse(this.as, this.client, new URL(callbackUrl), request.state)
    const response = await oauth.authorizationCodeGrantRequest(this.as, this.client, this.clientAuth, params,
      REDIRECT_URI, request.codeVerifier, { DPoP: dpop, ...this.options })
    return this.tokenResult(response, () => oauth.processAuthorizationCodeResponse(this.as, this.client, response))
  }

  async refresh (refreshToken, dpop, additionalParameters) {
    const response = await oauth.refreshTokenGrantRequest(this.as, this.client, this.clientAuth, refreshToken,
      { DPoP: dpop, additionalParameters, ...this.options })
    return this.tokenResult(response, () => oauth.processRefreshTokenResponse(this.as, this.client, response))
  }

  async tokenResult (response, process) {
    const raw = response.status === 200 ? await response.clone().json() : undefined
    const result = await process()
    return { result, raw, response }
  }

  async userinfo (accessToken, dpop, expectedSubject) {
    const response = await oauth.userInfoRequest(this.as, this.client, accessToken, { DPoP: dpop, ...this.options })
    return oauth.processUserInfoResponse(this.as, this.client, expectedSubject, response)
  }

  async introspect (token) {
    const response = await oauth.introspectionRequest(this.as, this.client, this.clientAuth, token, this.options)
    assert.equal(response.headers.get('cache-control'), 'no-store')
    return oauth.processIntrospectionResponse(this.as, this.client, response)
  }

  async revoke (token) {
    const response = await oauth.revocationRequest(this.as, this.client, this.clientAuth, token, this.options)
    const raw = response.status === 200 ? await response.clone().json() : undefined
    await oauth.processRevocationResponse(response)
    assert.deepEqual(raw, {})
  }

  /** Asserts the token response (api.md 2.11) and the RFC 9068 access token, verified with the JWKS. */
  async checkTokens ({ result, raw, response }, scope, dpop) {
    assert.equal(raw.token_type, 'DPoP')
    assert.equal(result.token_type, 'dpop') // oauth4webapi normalises to lower case
    assert.equal(raw.expires_in, 300)
    assert.equal(result.scope, scope)
    assert.equal(typeof result.refresh_token, 'string')
    assert.equal(response.headers.get('cache-control'), 'no-store')
    assert.equal(response.headers.get('pragma'), 'no-cache')
    const { header, claims } = decodeJwt(result.access_token)
    assert.equal(header.typ, 'at+jwt')
    assert.equal(header.alg, 'EdDSA')
    assert.equal(claims.iss, this.base)
    assert.equal(claims.aud, this.client.client_id)
    assert.equal(claims.client_id, this.client.client_id)
    assert.equal(claims.scope, scope)
    assert.equal(claims.exp - claims.iat, 300)
    assert.deepEqual(claims.cnf, { jkt: await dpop.calculateThumbprint() })
    const jwks = await (await this.http(this.as.jwks_uri)).json()
    const jwk = jwks.keys.find((k) => k.kid === header.kid)
    assert.ok(jwk, `no JWKS key with kid ${header.kid}`)
    const key = await subtle.importKey('jwk', { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, { name: 'Ed25519' }, false, ['verify'])
    const [h, p, s] = result.access_token.split('.')
    assert.ok(await subtle.verify('Ed25519', key, Buffer.from(s, 'base64url'), Buffer.from(`${h}.${p}`)),
      'access token does not verify with the published JWKS')
    return result
  }

  async codeFlow (agent, { scope = FULL_SCOPE, approval = 'get', dpop } = {}) {
    dpop ??= await this.newDPoP()
    const request = await this.authorizationRequest(scope, dpop)
    const callback = approval === 'get' ? await agent.approveGet(request.url) : await agent.approvePost(request.params, approval)
    const tokens = await this.checkTokens(await this.exchange(callback, request, dpop), scope, dpop)
    return { tokens, dpop, request }
  }
}

async function rejectsWith (promise, error, what) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof oauth.ResponseBodyError, `${what}: expected ResponseBodyError, got ${err}`)
    assert.equal(err.error, error, `${what}: ${err.error} ${err.error_description}`)
    return true
  })
}

// ------------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------------

test('discovery: oauth4webapi reads all three metadata paths; endpoints under the issuer', async () => {
  const http = boundedFetch(BASE)
  const options = { [oauth.customFetch]: http, [oauth.allowInsecureRequests]: true }
  const issuer = new URL(BASE)
  const docs = [
    await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...options })),
    await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...options })),
    // OpenID discovery for an issuer with path /v1/oauth fetches /v1/oauth/.well-known/openid-configuration;
    // the document names the real issuer (the origin).
    await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(new URL(`${BASE}/v1/oauth`), { algorithm: 'oidc', ...options })),
  ]
  assert.deepEqual(http.log.map((e) => e.url.pathname), DISCOVERY_PATHS)
  for (const doc of docs) {
    assert.deepEqual(doc, docs[0])
    assert.equal(doc.issuer, BASE)
    for (const member of ENDPOINT_MEMBERS) {
      assert.ok(doc[member].startsWith(`${BASE}/`), `${member} ${doc[member]} is not under the issuer`)
    }
  }
  const as = docs[0]
  assert.equal(as.authorization_response_iss_parameter_supported, true)
  assert.deepEqual(as.code_challenge_methods_supported, ['S256'])
  assert.deepEqual(as.token_endpoint_auth_methods_supported, ['private_key_jwt', 'none'])
  assert.ok(as.token_endpoint_auth_signing_alg_values_supported.includes('Ed25519'))
  assert.ok(as.dpop_signing_alg_values_supported.includes('Ed25519'))
})

test('GET authorize with a DPoP proof, code exchange with Ed25519 private_key_jwt + DPoP, userinfo, introspection', async () => {
  const rp = await RelyingParty.create(BASE)
  const agent = await OAuthAgent.register(BASE, boundedFetch(BASE))
  const dpop = await rp.newDPoP()
  const request = await rp.authorizationRequest(FULL_SCOPE, dpop)
  const location = await agent.approveGet(request.url)

  // The library validates the authorization response: a foreign iss is refused (RFC 9207) ...
  const forged = new URL(location)
  forged.searchParams.set('iss', 'http://evil.example')
  assert.throws(() => oauth.validateAuthResponse(rp.as, rp.client, forged, request.state), /iss/)
  const missing = new URL(location)
  missing.searchParams.delete('iss')
  assert.throws(() => oauth.validateAuthResponse(rp.as, rp.client, missing, request.state), /iss/)
  // An error answer is redirected too (with state and iss) and surfaces as the library's error.
  const bad = await rp.authorizationRequest('id openid', dpop)
  const refused = await rp.http(bad.url.href, { headers: { dpop: await agent.proof('GET', '/v1/oauth/authorize') } })
  assert.equal(refused.status, 303, await describeResponse(refused))
  assert.throws(() => oauth.validateAuthResponse(rp.as, rp.client, new URL(refused.headers.get('location')), bad.state),
    (err) => err instanceof oauth.AuthorizationResponseError && err.error === 'invalid_scope')
  // ... the real one is accepted and exchanged.
  const tokens = await rp.checkTokens(await rp.exchange(location, request, dpop), FULL_SCOPE, dpop)

  // The wire format oauth4webapi produced: assertion alg Ed25519, aud = issuer; DPoP proof alg Ed25519.
  const sent = rp.http.last('/v1/oauth/token')
  const form = new URLSearchParams(sent.body)
  const assertion = decodeJwt(form.get('client_assertion'))
  assert.equal(assertion.header.alg, 'Ed25519')
  assert.equal(assertion.claims.aud, BASE)
  assert.equal(assertion.claims.iss, rp.client.client_id)
  assert.equal(decodeJwt(sent.headers.get('dpop')).header.alg, 'Ed25519')

  const claims = await rp.userinfo(tokens.access_token, dpop, agent.id)
  assert.deepEqual(claims, expectedUserinfo(agent, FULL_SCOPE))
  const sentUserinfo = rp.http.last('/v1/oauth/userinfo')
  assert.equal(sentUserinfo.headers.get('authorization'), `DPoP ${tokens.access_token}`)
  const proof = decodeJwt(sentUserinfo.headers.get('dpop')).claims
  assert.equal(proof.ath, sha256b64u(tokens.access_token))
  assert.equal(proof.htm, 'GET')
  assert.equal(proof.htu, `${BASE}/v1/oauth/userinfo`)
  // POST userinfo (OpenID Connect allows it) through the library's generic protected-resource call.
  const posted = await oauth.protectedResourceRequest(tokens.access_token, 'POST', new URL(rp.as.userinfo_endpoint),
    undefined, undefined, { DPoP: dpop, ...rp.options })
  assert.deepEqual(await jsonOk(posted, 200, 'POST userinfo'), expectedUserinfo(agent, FULL_SCOPE))
  assert.equal(decodeJwt(rp.http.last('/v1/oauth/userinfo').headers.get('dpop')).claims.htm, 'POST')

  const at = await rp.introspect(tokens.access_token)
  assert.equal(at.active, true)
  assert.equal(at.token_type, 'DPoP')
  assert.deepEqual(at.cnf, { jkt: await dpop.calculateThumbprint() })
  assert.equal(at.client_id, rp.client.client_id)
  assert.equal(at.sub, agent.id)
  assert.equal(at.scope, FULL_SCOPE)
  assert.equal(at.username, AGENT_NAME)
  const rt = await rp.introspect(tokens.refresh_token)
  assert.equal(rt.active, true)
  assert.equal(rt.token_type, 'refresh_token')
})

test('POST authorize (Bearer and DPoP), refresh rotation, reuse revokes the grant', async () => {
  const rp = await RelyingParty.create(BASE)
  const agent = await OAuthAgent.register(BASE, boundedFetch(BASE))
  const viaDpop = await rp.codeFlow(agent, { scope: 'id', approval: 'dpop' })
  assert.deepEqual(await rp.userinfo(viaDpop.tokens.access_token, viaDpop.dpop, agent.id),
    expectedUserinfo(agent, 'id'))

  const { tokens: first, dpop } = await rp.codeFlow(agent, { scope: 'id name', approval: 'bearer' })
  const second = await rp.checkTokens(await rp.refresh(first.refresh_token, dpop), 'id name', dpop)
  assert.notEqual(second.refresh_token, first.refresh_token)
  assert.deepEqual(await rp.userinfo(second.access_token, dpop, agent.id), expectedUserinfo(agent, 'id name', 2))
  assert.deepEqual(await rp.introspect(first.refresh_token), { active: false })
  const narrowed = await rp.checkTokens(await rp.refresh(second.refresh_token, dpop, { scope: 'name' }), 'name', dpop)

  await rejectsWith(rp.refresh(first.refresh_token, dpop), 'invalid_grant', 'reuse of a rotated refresh token')
  await rejectsWith(rp.refresh(narrowed.refresh_token, dpop), 'invalid_grant', 'refresh after reuse detection')
  for (const token of [second.access_token, narrowed.access_token, narrowed.refresh_token]) {
    assert.deepEqual(await rp.introspect(token), { active: false })
  }
  await assert.rejects(rp.userinfo(narrowed.access_token, dpop, agent.id), (err) => {
    assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, String(err))
    assert.equal(err.status, 401)
    assert.equal(err.cause[0].scheme, 'dpop')
    assert.equal(err.cause[0].parameters.error, 'invalid_token')
    return true
  })
  // The other grant of the same agent and client is untouched.
  assert.equal((await rp.introspect(viaDpop.tokens.refresh_token)).active, true)
})

test('revocation (always 200 {}) and introspection', async () => {
  const rp = await RelyingParty.create(BASE)
  const agent = await OAuthAgent.register(BASE, boundedFetch(BASE))
  const { tokens, dpop } = await rp.codeFlow(agent, { scope: 'id description', approval: 'bearer' })

  await rp.revoke(tokens.access_token)
  assert.deepEqual(await rp.introspect(tokens.access_token), { active: false })
  await assert.rejects(rp.userinfo(tokens.access_token, dpop, agent.id), (err) => {
    assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, String(err))
    assert.equal(err.status, 401)
    assert.equal(err.cause[0].scheme, 'dpop')
    assert.equal(err.cause[0].parameters.error, 'invalid_token')
    assert.equal(err.cause[0].parameters.algs, 'EdDSA Ed25519 ES256')
    return true
  })
  assert.equal((await rp.introspect(tokens.refresh_token)).active, true)

  const refreshed = await rp.checkTokens(await rp.refresh(tokens.refresh_token, dpop), 'id description', dpop)
  assert.equal((await rp.introspect(refreshed.access_token)).active, true)
  await rp.revoke(refreshed.refresh_token)
  assert.deepEqual(await rp.introspect(refreshed.access_token), { active: false })
  assert.deepEqual(await rp.introspect(refreshed.refresh_token), { active: false })
  await rejectsWith(rp.refresh(refreshed.refresh_token, dpop), 'invalid_grant', 'refresh after revocation')

  await rp.revoke('not-a-token')
  await rp.revoke(refreshed.refresh_token)
  assert.deepEqual(await rp.introspect('not-a-token'), { active: false })
  // The assertion audience of oauth4webapi is the issuer at revoke and introspect too.
  for (const path of ['/v1/oauth/revoke', '/v1/oauth/introspect']) {
    const form = new URLSearchParams(rp.http.last(path).body)
    assert.equal(decodeJwt(form.get('client_assertion')).claims.aud, BASE)
  }
})

test('nonce server: oauth4webapi caches the DPoP-Nonce and the documented retry succeeds', { skip: !NONCE_BASE && 'AGENT_ID_NONCE_BASE_URL not set' }, async () => {
  const rp = await RelyingParty.create(NONCE_BASE, { name: 'oauth4webapi nonce app' })
  const agent = await OAuthAgent.register(NONCE_BASE, boundedFetch(NONCE_BASE))
  const dpop = await rp.newDPoP()
  const request = await rp.authorizationRequest('id name', dpop)
  const callback = await agent.approvePost(request.params, 'bearer')

  // First attempt: use_dpop_nonce (the handle caches the DPoP-Nonce); the retry carries the nonce.
  await assert.rejects(rp.exchange(callback, request, dpop), (err) => oauth.isDPoPNonceError(err))
  const tokens = await rp.checkTokens(await rp.exchange(callback, request, dpop), 'id name', dpop)
  const [first, second] = rp.http.all('/v1/oauth/token')
  assert.equal(first.status, 400)
  assert.ok(first.responseHeaders.get('dpop-nonce'))
  assert.equal(decodeJwt(second.headers.get('dpop')).claims.nonce, first.responseHeaders.get('dpop-nonce'))

  // Userinfo on the same origin reuses the cached nonce (the server's nonces are valid for minutes).
  assert.deepEqual(await rp.userinfo(tokens.access_token, dpop, agent.id), expectedUserinfo(agent, 'id name'))
  assert.ok(decodeJwt(rp.http.last('/v1/oauth/userinfo').headers.get('dpop')).claims.nonce)
})

// ------------------------------------------------------------------------------------------------
// Protected resources (issue 10): oauth4webapi as the resource server's library
// ------------------------------------------------------------------------------------------------

const RESOURCE_SCOPES = [{ name: 'files:read', description: 'Read files' }, { name: 'files:write', description: 'Write files' }]

/** A protected resource of the shared overseer (POST /v1/overseers/me/resources), on a loopback URI. */
async function registerResourceFor (base, { path = '/api', dpop = false, alg = 'EdDSA' } = {}) {
  const overseer = await overseerFor(base)
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const uri = `http://127.0.0.1:${server.address().port}${path}`
  const http = boundedFetch(base)
  const body = await jsonOk(await http(`${base}/v1/overseers/me/resources`, {
    method: 'POST', headers: { ...overseer.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ uri, name: 'oauth4webapi resource', scopes: RESOURCE_SCOPES, dpop_bound_access_tokens: dpop, access_token_alg: alg }),
  }), 201, 'resource registration')
  return { resource: body.resource ?? body, server }
}

/**
 * A code flow for `resource` (RFC 8707 at authorize and token), approved by the agent's DPoP
 * proof; with `dpop` the token request carries the library's proof.
 */
async function resourceTokens (rp, agent, resource, scope, dpop) {
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const url = new URL(rp.as.authorization_endpoint)
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: rp.client.client_id, redirect_uri: REDIRECT_URI, scope, state,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
    resource: resource.uri,
  })) url.searchParams.set(k, v)
  const callback = await agent.approveGet(url)
  const params = oauth.validateAuthResponse(rp.as, rp.client, new URL(callback), state)
  const response = await oauth.authorizationCodeGrantRequest(rp.as, rp.client, rp.clientAuth, params, REDIRECT_URI,
    codeVerifier, { DPoP: dpop, additionalParameters: { resource: resource.uri }, ...rp.options })
  return oauth.processAuthorizationCodeResponse(rp.as, rp.client, response)
}

/**
 * The client side calls the resource with oauth4webapi's protectedResourceRequest (Bearer, or
 * DPoP with its proof); the resource side receives exactly that Request and validates it with
 * oauth4webapi's validateJwtAccessToken (RFC 9068, RFC 9449 §7 when bound) against agent-id's
 * metadata and JWKS. Returns the validated claims, or throws the library's error.
 */
async function presentToResource (rp, resource, accessToken, { dpop, scheme } = {}) {
  let received
  const resourceFetch = async (url, init) => {
    received = new Request(url, init)
    if (scheme) received.headers.set('authorization', `${scheme} ${accessToken}`)
    return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } })
  }
  await oauth.protectedResourceRequest(accessToken, 'GET', new URL(resource.uri), undefined, undefined,
    { DPoP: dpop, [oauth.customFetch]: resourceFetch, [oauth.allowInsecureRequests]: true })
  return oauth.validateJwtAccessToken(rp.as, received, resource.uri, rp.options)
}

test('resource discovery: processResourceDiscoveryResponse accepts metadata_url and the same document at the well-known path', async () => {
  const { resource, server } = await registerResourceFor(BASE)
  try {
    const http = boundedFetch(BASE)
    const options = { [oauth.allowInsecureRequests]: true }
    // The way through agent-id's URL (WWW-Authenticate resource_metadata): a plain fetch, the
    // library's processing (RFC 9728 §3.3: `resource` must equal the identifier).
    const rs = await oauth.processResourceDiscoveryResponse(new URL(resource.uri), await http(resource.metadata_url))
    assert.equal(rs.resource, resource.uri)
    assert.deepEqual(rs.authorization_servers, [BASE])
    assert.deepEqual([...rs.scopes_supported].sort(), ['files:read', 'files:write', 'offline_access'])
    assert.deepEqual(rs.bearer_methods_supported, ['header'])
    assert.equal(rs.dpop_bound_access_tokens_required, false)
    assert.equal(rs.resource_name, 'oauth4webapi resource')
    // The way through the resource server's own well-known path (RFC 9728 §3.1): the resource
    // serves agent-id's document verbatim, the library requests and processes it.
    const document = await (await http(resource.metadata_url)).text()
    server.on('request', (req, res) => {
      if (req.url !== '/.well-known/oauth-protected-resource/api') return res.writeHead(404).end()
      res.writeHead(200, { 'content-type': 'application/json' }).end(document)
    })
    const origin = new URL(resource.uri).origin
    const viaWellKnown = await oauth.processResourceDiscoveryResponse(new URL(resource.uri),
      await oauth.resourceDiscoveryRequest(new URL(resource.uri), { ...options, [oauth.customFetch]: boundedFetch(origin) }))
    assert.deepEqual(viaWellKnown, rs)
    // A document for another resource is refused by the library.
    await assert.rejects(oauth.processResourceDiscoveryResponse(new URL(`${origin}/other`), await http(resource.metadata_url)),
      (err) => err instanceof oauth.OperationProcessingError)
    // The issuer it names is agent-id, whose own metadata the library accepts.
    const as = await oauth.processDiscoveryResponse(new URL(rs.authorization_servers[0]),
      await oauth.discoveryRequest(new URL(rs.authorization_servers[0]), { algorithm: 'oauth2', ...options, [oauth.customFetch]: http }))
    assert.equal(as.issuer, BASE)
  } finally {
    server.close()
  }
})

test('validateJwtAccessToken: our Bearer and DPoP resource tokens pass an independent resource-server check', async () => {
  const { resource, server } = await registerResourceFor(BASE)
  server.close()
  const agent = await OAuthAgent.register(BASE, boundedFetch(BASE))

  // A registered private_key_jwt client without dpop_bound_access_tokens and without a proof:
  // a Bearer token for the resource (aud = the resource URI, no cnf).
  const bearerRp = await RelyingParty.create(BASE, { name: 'oauth4webapi bearer app', dpopBound: false })
  const bearer = await resourceTokens(bearerRp, agent, resource, 'files:read')
  assert.equal(bearer.token_type, 'bearer')
  const claims = await presentToResource(bearerRp, resource, bearer.access_token)
  assert.equal(claims.aud, resource.uri)
  assert.equal(claims.sub, agent.id)
  assert.equal(claims.client_id, bearerRp.client.client_id)
  assert.equal(claims.scope, 'files:read')
  assert.equal(claims.cnf, undefined)
  assert.deepEqual(claims.agent?.oversight, 'none', JSON.stringify(claims))

  // With the library's DPoP handle at the token endpoint: a bound token, presented with a proof.
  const rp = await RelyingParty.create(BASE, { name: 'oauth4webapi dpop app' })
  const dpop = await rp.newDPoP()
  const bound = await resourceTokens(rp, agent, resource, 'files:read files:write', dpop)
  assert.equal(bound.token_type, 'dpop')
  const boundClaims = await presentToResource(rp, resource, bound.access_token, { dpop })
  assert.equal(boundClaims.aud, resource.uri)
  assert.deepEqual(boundClaims.cnf, { jkt: await dpop.calculateThumbprint() })

  // The library's resource-server side refuses: the bound token as Bearer without a proof
  // (RFC 9449 §7.2), the Bearer token for another audience, and the identity-token audience.
  await assert.rejects(presentToResource(rp, resource, bound.access_token, { scheme: 'Bearer' }),
    (err) => err instanceof oauth.OperationProcessingError || err instanceof oauth.UnsupportedOperationError)
  await assert.rejects(oauth.validateJwtAccessToken(bearerRp.as,
    new Request(resource.uri, { headers: { authorization: `Bearer ${bearer.access_token}` } }), `${resource.uri}/other`, bearerRp.options),
  /unexpected JWT "aud"/)
  await assert.rejects(oauth.validateJwtAccessToken(bearerRp.as,
    new Request(resource.uri, { headers: { authorization: `Bearer ${bearer.access_token}` } }), bearerRp.client.client_id, bearerRp.options),
  /unexpected JWT "aud"/)
})

test('validateJwtAccessToken: an ES256 resource gets ES256 tokens, verified from the JWKS by the library', async () => {
  const { resource, server } = await registerResourceFor(BASE, { alg: 'ES256' })
  server.close()
  assert.equal(resource.access_token_alg, 'ES256')
  const agent = await OAuthAgent.register(BASE, boundedFetch(BASE))
  const rp = await RelyingParty.create(BASE, { name: 'oauth4webapi es256 app' })
  const dpop = await rp.newDPoP()
  const tokens = await resourceTokens(rp, agent, resource, 'files:read offline_access', dpop)
  const header = JSON.parse(Buffer.from(tokens.access_token.split('.')[0], 'base64url'))
  assert.equal(header.alg, 'ES256')
  // The key is published beside the Ed25519 ones; the library picks it by kid and alg.
  const jwks = await jsonOk(await rp.http(rp.as.jwks_uri), 200, 'jwks')
  const published = jwks.keys.find((k) => k.kid === header.kid)
  assert.deepEqual([published.kty, published.crv, published.alg, published.use], ['EC', 'P-256', 'ES256', 'sig'])
  assert.equal(published.d, undefined)
  const claims = await presentToResource(rp, resource, tokens.access_token, { dpop })
  assert.equal(claims.aud, resource.uri)
  assert.equal(claims.sub, agent.id)
  assert.deepEqual(claims.cnf, { jkt: await dpop.calculateThumbprint() })
  // The refreshed token is ES256 as well, and the library accepts it too.
  const refreshed = await oauth.processRefreshTokenResponse(rp.as, rp.client,
    await oauth.refreshTokenGrantRequest(rp.as, rp.client, rp.clientAuth, tokens.refresh_token, { DPoP: dpop, ...rp.options }))
  assert.equal(JSON.parse(Buffer.from(refreshed.access_token.split('.')[0], 'base64url')).alg, 'ES256')
  assert.equal((await presentToResource(rp, resource, refreshed.access_token, { dpop })).aud, resource.uri)
  // A resource server that accepts only EdDSA refuses it: the algorithm is real, not a label.
  await assert.rejects(oauth.validateJwtAccessToken(rp.as,
    new Request(resource.uri, { headers: { authorization: `Bearer ${tokens.access_token}` } }), resource.uri,
    { ...rp.options, signingAlgorithms: ['EdDSA'] }))
})
