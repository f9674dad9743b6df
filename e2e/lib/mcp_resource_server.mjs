// A small MCP server built with the official MCP TypeScript SDK (`McpServer` +
// `StreamableHTTPServerTransport`, stateless), put behind agent-id as a protected resource. It
// checks agent-id's access tokens itself, with `jose` and nothing of agent-id's code: the JWKS
// from agent-id's discovery, `iss`, `aud` = its own resource URI, `typ` at+jwt, expiry, and when
// the token is bound (`cnf.jkt`) the DPoP proof of RFC 9449 §4.3/§7.1 (typ, alg, signature by the
// embedded key, `htm`, `htu`, `iat`, `jti` once, `ath`, the key's thumbprint = `cnf.jkt`). A
// missing or refused token gets `401` with `WWW-Authenticate` pointing to the protected-resource
// metadata, in one of the two ways docs/resources.md describes:
//   - `metadata: 'agent-id'`: `Bearer resource_metadata="<agent-id's metadata_url>"`;
//   - `metadata: 'well-known'`: the server serves the same document itself at
//     `/.well-known/oauth-protected-resource/mcp` (RFC 9728 §3.1) and answers a plain `Bearer`
//     challenge, so the client finds it at the well-known path.
// The same loopback server also serves the client's Client ID Metadata Document (`/client.json`)
// and records the authorization responses that reach its redirect URI (`/callback`).

import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { EmbeddedJWK, calculateJwkThumbprint, createRemoteJWKSet, customFetch, jwtVerify } from 'jose'

/** Access-token algorithms agent-id may sign with (docs/resources.md), DPoP proof algorithms. */
const TOKEN_ALGS = ['EdDSA', 'ES256']
const PROOF_ALGS = ['EdDSA', 'Ed25519', 'ES256']
/** How far a DPoP proof's `iat` may be from now (seconds). */
const PROOF_WINDOW_S = 60

/** Why the server refused a request (the `error_description` of its challenge). */
class Refusal extends Error {}

/**
 * Starts the MCP server on a free loopback port. `issuer`: agent-id's issuer (its JWKS is found
 * through its discovery document); `fetch`: the bounded fetch used to reach agent-id.
 * Returns { origin, url (the MCP endpoint = the resource URI), configure(), close(), calls, callbacks }.
 */
export async function startMcpResourceServer ({ issuer, fetch: fetchAgentId }) {
  const discovery = await (await fetchAgentId(`${issuer}/.well-known/oauth-authorization-server`)).json()
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri), { [customFetch]: fetchAgentId })
  const state = {
    metadata: 'agent-id', // or 'well-known'
    metadataUrl: undefined, // agent-id's metadata_url of the registered resource
    metadataDocument: undefined, // the document served at the well-known path
    clientDocument: undefined, // the CIMD document served at /client.json
    seenJti: new Set(),
  }
  const calls = [] // every /mcp request: { scheme, status, reason }
  const callbacks = [] // every /callback request's URL

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(String(error))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${server.address().port}`
  const url = `${origin}/mcp`

  async function verify (req) {
    const header = req.headers.authorization ?? ''
    const match = /^(Bearer|DPoP) ([A-Za-z0-9._~+/-]+=*)$/.exec(header)
    if (!match) throw new Refusal('no access token')
    const [, scheme, token] = match
    let payload, protectedHeader
    try {
      ({ payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer, audience: url, typ: 'at+jwt', algorithms: TOKEN_ALGS, requiredClaims: ['exp', 'iat', 'sub', 'client_id'],
      }))
    } catch (error) {
      throw new Refusal(`access token refused: ${error.code ?? error.message}`)
    }
    const jkt = payload.cnf?.jkt
    if (jkt !== undefined) {
      if (scheme !== 'DPoP') throw new Refusal('a DPoP-bound token must be presented with the DPoP scheme')
      await verifyProof(req, token, jkt)
    } else if (scheme !== 'Bearer') {
      throw new Refusal('an unbound token must be presented with the Bearer scheme')
    }
    return { token, scheme, payload, alg: protectedHeader.alg }
  }

  async function verifyProof (req, token, jkt) {
    const proof = req.headers.dpop
    if (typeof proof !== 'string' || !proof) throw new Refusal('DPoP proof missing')
    let payload, protectedHeader
    try {
      ({ payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: PROOF_ALGS }))
    } catch (error) {
      throw new Refusal(`DPoP proof refused: ${error.code ?? error.message}`)
    }
    if (payload.htm !== req.method) throw new Refusal('DPoP htm does not match')
    if (payload.htu !== url) throw new Refusal('DPoP htu does not match')
    if (typeof payload.iat !== 'number' || Math.abs(payload.iat - Date.now() / 1000) > PROOF_WINDOW_S) {
      throw new Refusal('DPoP iat out of window')
    }
    if (typeof payload.jti !== 'string' || state.seenJti.has(payload.jti)) throw new Refusal('DPoP jti missing or replayed')
    state.seenJti.add(payload.jti)
    if (payload.ath !== createHash('sha256').update(token).digest('base64url')) throw new Refusal('DPoP ath does not match')
    if (await calculateJwkThumbprint(protectedHeader.jwk) !== jkt) throw new Refusal('DPoP key is not the bound key')
  }

  // RFC 6750 §3: no error code when the request carried no token; RFC 9728 §5.1: resource_metadata.
  function challenge (res, reason, hadToken) {
    const params = []
    if (state.metadata === 'agent-id') params.push(`resource_metadata="${state.metadataUrl}"`)
    if (hadToken) params.push('error="invalid_token"', `error_description="${reason}"`)
    res.writeHead(401, {
      'www-authenticate': ['Bearer', params.join(', ')].filter(Boolean).join(' '),
      'content-type': 'application/json',
    })
    res.end(JSON.stringify({ error: 'invalid_token', error_description: reason }))
  }

  async function handle (req, res) {
    const path = new URL(req.url, origin).pathname
    if (req.method === 'GET' && path === '/.well-known/oauth-protected-resource/mcp' && state.metadata === 'well-known') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify(state.metadataDocument))
    }
    if (req.method === 'GET' && path === '/client.json' && state.clientDocument) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' })
      return res.end(JSON.stringify(state.clientDocument))
    }
    if (req.method === 'GET' && path === '/callback') {
      callbacks.push(new URL(req.url, origin))
      res.writeHead(200, { 'content-type': 'text/plain' })
      return res.end('authorization response received')
    }
    if (path !== '/mcp') {
      res.writeHead(404, { 'content-type': 'application/json' })
      return res.end('{"error":"not_found"}')
    }
    let verified
    try {
      verified = await verify(req)
    } catch (error) {
      if (!(error instanceof Refusal)) throw error
      calls.push({ scheme: (req.headers.authorization ?? '').split(' ')[0], status: 401, reason: error.message })
      return challenge(res, error.message, Boolean(req.headers.authorization))
    }
    calls.push({ scheme: verified.scheme, status: 200 })
    const { payload } = verified
    req.auth = {
      token: verified.token,
      clientId: payload.client_id,
      scopes: String(payload.scope ?? '').split(' ').filter(Boolean),
      expiresAt: payload.exp,
      resource: new URL(url),
      extra: { payload, scheme: verified.scheme, alg: verified.alg },
    }
    const mcp = new McpServer({ name: 'agent-id-e2e-whoami', version: '1.0.0' })
    mcp.registerTool('whoami', {
      description: 'Tells which agent the access token was issued for',
    }, async (extra) => {
      const claims = extra.authInfo.extra.payload
      const answer = {
        sub: claims.sub,
        agent: claims.agent,
        client_id: claims.client_id,
        scope: claims.scope,
        aud: claims.aud,
        bound: claims.cnf?.jkt !== undefined,
        scheme: extra.authInfo.extra.scheme,
        alg: extra.authInfo.extra.alg,
      }
      return { content: [{ type: 'text', text: JSON.stringify(answer) }], structuredContent: answer }
    })
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
    res.on('close', () => { transport.close(); mcp.close() })
    await mcp.connect(transport)
    await transport.handleRequest(req, res)
  }

  return {
    origin,
    url,
    calls,
    callbacks,
    /** Sets how the 401 points to the metadata, and what the loopback server serves. */
    configure (changes) { Object.assign(state, changes) },
    /** Verifies a token as the server does (for checks outside an MCP exchange). */
    verifyAuthorization: (headers, method = 'POST') => verify({ headers, method }),
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()) }),
  }
}
