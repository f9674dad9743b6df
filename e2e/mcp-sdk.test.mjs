// agent-id in front of an MCP server, proved with the official MCP TypeScript SDK
// (@modelcontextprotocol/sdk from npm, unmodified; node --test) against the real wasm:
//
//   - the MCP server (e2e/lib/mcp_resource_server.mjs) is built with the SDK's McpServer and
//     StreamableHTTPServerTransport, registered on agent-id as a protected resource by its
//     overseer, and checks agent-id's tokens itself with `jose` (JWKS, iss, aud, typ, expiry,
//     DPoP when bound);
//   - the SDK's Client + StreamableHTTPClientTransport with an OAuthClientProvider discovers
//     everything from the server's 401 (protected-resource metadata, then agent-id's
//     authorization-server metadata), identifies itself by a Client ID Metadata Document served
//     on loopback (agent-id runs with CIMD_ALLOW_LOOPBACK=true in e2e), obtains a token with the
//     resource indicator and calls the `whoami` tool, whose answer names the agent;
//   - the consent is given once by the agent itself (GET authorize with its DPoP proof), once by
//     its overseer in headless Chromium (e2e/lib/consent.mjs), and once by the agent for a
//     resource that requires DPoP-bound tokens (the client's fetch adds RFC 9449 proofs).
//
// The SDK (1.32.2) takes a `clientMetadataUrl` only over https, and loopback in e2e is http; so
// the provider hands the same URL as its pre-registered `client_id` (clientInformation()), which
// the SDK then uses exactly as it uses a CIMD URL: no registration, `client_id` = the URL, PKCE,
// `token_endpoint_auth_method` none. Environment: AGENT_ID_BASE_URL (required).

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { SignJWT, exportJWK, generateKeyPair, calculateJwkThumbprint, jwtVerify, createRemoteJWKSet, customFetch, errors } from 'jose'
import { boundedFetch, describeResponse, jsonOk, originFromEnv } from './lib/agentid.mjs'
import { OUT, launchBrowser, openPage, shot } from './lib/browser.mjs'
import { consentInBrowser } from './lib/consent.mjs'
import { startMcpResourceServer } from './lib/mcp_resource_server.mjs'
import { claimedAgent, loopbackFetch, paidOverseer, registerResource } from './lib/resources.mjs'

const BASE = originFromEnv('AGENT_ID_BASE_URL', { required: true })
const SCOPES = [
  { name: 'tools:read', description: 'List and call read-only tools' },
  { name: 'tools:write', description: 'Call tools that change things' },
]

let overseer, agent, servers
const http = boundedFetch(BASE)

before(async () => {
  overseer = await paidOverseer(BASE, http, 'MCP Server Owner')
  agent = await claimedAgent(BASE, http, overseer, 'MCP Agent')
  servers = []
})

after(async () => {
  for (const s of servers ?? []) await s.close()
})

/** An MCP server on loopback, registered on agent-id as a resource; serves its CIMD document too. */
async function protectedMcpServer ({ dpop = false, metadata = 'agent-id' } = {}) {
  const server = await startMcpResourceServer({ issuer: BASE, fetch: http })
  servers.push(server)
  const resource = await registerResource(BASE, http, overseer, {
    uri: server.url, name: `whoami MCP server ${servers.length}`, scopes: SCOPES, dpop,
  })
  // RFC 9728 document as agent-id serves it at metadata_url, fetched without credentials.
  const document = await jsonOk(await http(resource.metadata_url), 200, 'GET metadata_url')
  assert.equal(document.resource, server.url)
  assert.deepEqual(document.authorization_servers, [BASE])
  const clientId = `${server.origin}/client.json`
  const clientDocument = {
    client_id: clientId,
    client_name: 'MCP SDK e2e client',
    redirect_uris: [`${server.origin}/callback`],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  }
  server.configure({ metadata, metadataUrl: resource.metadata_url, metadataDocument: document, clientDocument })
  return { server, resource, document, clientId, clientDocument }
}

/**
 * The SDK's OAuthClientProvider, kept in memory. `consent(url)` is the user agent: it receives
 * the authorization URL the SDK built and returns the URL agent-id redirected to.
 */
class Provider {
  constructor ({ clientId, clientDocument, consent }) {
    this.clientId = clientId
    this.clientDocument = clientDocument
    this.consent = consent
    this.saved = {}
    this.authorizationUrls = []
    this.callbacks = []
  }

  get redirectUrl () { return this.clientDocument.redirect_uris[0] }
  get clientMetadata () {
    const { client_id: _, ...metadata } = this.clientDocument
    return metadata
  }

  clientInformation () { return this.saved.client ?? { client_id: this.clientId } }
  saveClientInformation (info) { this.saved.client = info }
  tokens () { return this.saved.tokens }
  saveTokens (tokens) { this.saved.tokens = tokens }
  saveCodeVerifier (verifier) { this.saved.verifier = verifier }
  codeVerifier () { return this.saved.verifier }
  state () { return (this.saved.state = randomUUID()) }

  async redirectToAuthorization (url) {
    this.authorizationUrls.push(new URL(url))
    const callback = await this.consent(new URL(url))
    this.callbacks.push(callback)
  }

  /** The code of the last authorization response, after checking state and iss (RFC 9207). */
  code () {
    const callback = this.callbacks.at(-1)
    assert.ok(callback?.href.startsWith(`${this.redirectUrl}?`), `authorization response: ${callback}`)
    assert.equal(callback.searchParams.get('error'), null, `authorization refused: ${callback}`)
    assert.equal(callback.searchParams.get('state'), this.saved.state)
    assert.equal(callback.searchParams.get('iss'), BASE)
    return callback.searchParams.get('code')
  }
}

/** The agent consents with its DPoP proof at GET /v1/oauth/authorize (303 to the redirect URI). */
function agentConsent (theAgent) {
  return async (url) => {
    const response = await http(url.href, { headers: { dpop: await theAgent.proof('GET', '/v1/oauth/authorize') } })
    assert.equal(response.status, 303, `GET authorize with the agent's DPoP proof: ${await describeResponse(response)}`)
    return new URL(response.headers.get('location'))
  }
}

/**
 * Adds DPoP (RFC 9449) to the SDK client's requests: a proof on every token request, and for
 * the MCP server the token presented with the DPoP scheme plus a proof with `ath`.
 */
async function dpopFetch (inner, { tokenEndpoint, mcpUrl }) {
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  const jwk = await exportJWK(publicKey)
  const proof = (htm, htu, extra = {}) => new SignJWT({ htm, htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...extra })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk }).sign(privateKey)
  const fn = async (url, init = {}) => {
    const href = String(url)
    const method = init.method ?? 'GET'
    const headers = new Headers(init.headers)
    if (href === tokenEndpoint) headers.set('dpop', await proof(method, tokenEndpoint))
    const bearer = /^Bearer (.+)$/.exec(headers.get('authorization') ?? '')
    if (href.split('?')[0] === mcpUrl && bearer) {
      const ath = createHash('sha256').update(bearer[1]).digest('base64url')
      headers.set('authorization', `DPoP ${bearer[1]}`)
      headers.set('dpop', await proof(method, mcpUrl, { ath }))
    }
    return inner(url, { ...init, headers })
  }
  fn.jkt = await calculateJwkThumbprint(jwk)
  return fn
}

/**
 * Runs the SDK's client against `server` until `whoami` answers: the first connect gets the 401,
 * discovers and sends the user agent to authorize (UnauthorizedError), finishAuth redeems the code,
 * and a fresh transport connects with the token.
 */
async function whoami (server, provider, fetchFn) {
  const connect = async () => {
    const transport = new StreamableHTTPClientTransport(new URL(server.url), { authProvider: provider, fetch: fetchFn })
    const client = new Client({ name: 'agent-id-e2e', version: '1.0.0' })
    await client.connect(transport)
    return { client, transport }
  }
  const first = new StreamableHTTPClientTransport(new URL(server.url), { authProvider: provider, fetch: fetchFn })
  await assert.rejects(new Client({ name: 'agent-id-e2e', version: '1.0.0' }).connect(first), UnauthorizedError)
  await first.finishAuth(provider.code())
  const { client } = await connect()
  try {
    const tools = await client.listTools()
    assert.deepEqual(tools.tools.map((t) => t.name), ['whoami'])
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    assert.equal(result.isError, undefined, JSON.stringify(result))
    return JSON.parse(result.content[0].text)
  } finally {
    await client.close()
  }
}

function assertDiscoveredFrom401 (fetchFn, server, metadataPath) {
  const seen = fetchFn.log.map((e) => `${e.method} ${e.url.origin === BASE ? 'AS' : 'RS'}${e.url.pathname} ${e.status}`)
  assert.equal(seen[0], 'POST RS/mcp 401', seen.join('\n'))
  assert.ok(seen.includes(`GET ${metadataPath} 200`), `protected-resource metadata fetched from ${metadataPath}:\n${seen.join('\n')}`)
  assert.ok(seen.includes('GET AS/.well-known/oauth-authorization-server 200'), seen.join('\n'))
  assert.ok(seen.includes('POST AS/v1/oauth/token 200'), seen.join('\n'))
  assert.ok(seen.some((s) => s.startsWith('POST RS/mcp 200')), seen.join('\n'))
}

function assertAuthorizationRequest (provider, { clientId, resource }) {
  const url = provider.authorizationUrls.at(-1)
  assert.equal(url.origin + url.pathname, `${BASE}/v1/oauth/authorize`)
  assert.equal(url.searchParams.get('client_id'), clientId)
  assert.deepEqual(url.searchParams.getAll('resource'), [resource])
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256')
  assert.deepEqual(url.searchParams.get('scope').split(' ').sort(), ['offline_access', 'tools:read', 'tools:write'])
}

test('MCP SDK: the agent consents with its DPoP proof; the 401 points to agent-id\'s metadata_url', async () => {
  const { server, resource, clientId, clientDocument } = await protectedMcpServer({ metadata: 'agent-id' })
  const fetchFn = loopbackFetch([BASE, server.origin])
  const provider = new Provider({ clientId, clientDocument, consent: agentConsent(agent) })
  const me = await whoami(server, provider, fetchFn)

  assertDiscoveredFrom401(fetchFn, server, `AS${new URL(resource.metadata_url).pathname}`)
  assertAuthorizationRequest(provider, { clientId, resource: server.url })
  assert.equal(me.sub, agent.id)
  assert.equal(me.client_id, clientId)
  assert.equal(me.aud, server.url)
  assert.equal(me.scheme, 'Bearer')
  assert.equal(me.bound, false)
  assert.equal(me.agent?.oversight, 'human', JSON.stringify(me))
  assert.deepEqual(me.scope.split(' ').sort(), ['tools:read', 'tools:write'])
  assert.equal(provider.saved.tokens.token_type.toLowerCase(), 'bearer')
  assert.ok(provider.saved.tokens.refresh_token, 'offline_access was granted: a refresh token')
})

test('MCP SDK: the overseer consents in headless Chromium; the server serves the metadata at its own well-known path', async () => {
  const { server, clientId, clientDocument, document } = await protectedMcpServer({ metadata: 'well-known' })
  const browser = await launchBrowser()
  try {
    const { context, page, seen } = await openPage(browser, BASE)
    page.setDefaultTimeout(60000) // log-in, consent page and approval in one wait (consent.mjs)
    try {
      const consent = async (url) => {
        try {
          return await consentInBrowser(page, {
            authorizeUrl: url.href, email: overseer.email, password: overseer.password, agentName: 'MCP Agent',
            redirectUri: clientDocument.redirect_uris[0],
          })
        } catch (error) {
          await shot(page, 'mcp-sdk-overseer-consent-failed')
          const text = await page.locator('main').innerText().catch(() => '')
          const failure = new Error(`consent in the browser at ${page.url()}: ${error.message}\npage: ${text}\nseen: ${JSON.stringify(seen)}`)
          writeFileSync(join(OUT, 'mcp-sdk-overseer-consent-failed.txt'), failure.message)
          throw failure
        }
      }
      const fetchFn = loopbackFetch([BASE, server.origin])
      const provider = new Provider({ clientId, clientDocument, consent })
      const me = await whoami(server, provider, fetchFn)

      assertDiscoveredFrom401(fetchFn, server, 'RS/.well-known/oauth-protected-resource/mcp')
      assertAuthorizationRequest(provider, { clientId, resource: document.resource })
      assert.equal(me.sub, agent.id)
      assert.equal(me.client_id, clientId)
      assert.equal(me.scheme, 'Bearer')
    } finally {
      await context.close()
    }
  } finally {
    await browser.close()
  }
})

test('MCP SDK: a resource that requires DPoP gets a bound token, which the server checks proof by proof', async () => {
  const { server, clientId, clientDocument } = await protectedMcpServer({ dpop: true })
  const discovery = await jsonOk(await http(`${BASE}/.well-known/oauth-authorization-server`), 200, 'discovery')
  const fetchFn = await dpopFetch(loopbackFetch([BASE, server.origin]), { tokenEndpoint: discovery.token_endpoint, mcpUrl: server.url })
  const provider = new Provider({ clientId, clientDocument, consent: agentConsent(agent) })
  const me = await whoami(server, provider, fetchFn)
  assert.equal(me.sub, agent.id)
  assert.equal(me.scheme, 'DPoP')
  assert.equal(me.bound, true)
  assert.equal(provider.saved.tokens.token_type, 'DPoP')

  // The same token, shown as Bearer or with a stale proof, is refused by the server (RFC 9449 §7).
  const token = provider.saved.tokens.access_token
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'))
  assert.equal(claims.cnf.jkt, fetchFn.jkt)
  await assert.rejects(server.verifyAuthorization({ authorization: `Bearer ${token}` }), /DPoP scheme/)
  await assert.rejects(server.verifyAuthorization({ authorization: `DPoP ${token}` }), /proof missing/)

  // Another resource's server refuses it (aud), and nobody accepts it after exp.
  const other = servers[0]
  await assert.rejects(other.verifyAuthorization({ authorization: `DPoP ${token}` }), /access token refused: ERR_JWT_CLAIM_VALIDATION_FAILED/)
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri), { [customFetch]: http })
  await assert.rejects(jwtVerify(token, jwks, { issuer: BASE, audience: server.url, currentDate: new Date((claims.exp + 1) * 1000) }),
    errors.JWTExpired)
})
