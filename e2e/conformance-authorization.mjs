// Runs the MCP conformance suite's authorization-server scenarios (@modelcontextprotocol/conformance
// `authorization`: authorization-server-metadata-endpoint, authorization-code-grant) against
// agent-id in wrangler dev, and plays the user agent the suite waits for.
//
//   node e2e/conformance-authorization.mjs --node NODE22 --suite DIST_INDEX_JS --out DIR [--client registered|cimd]
//
// Set-up through agent-id's public API: a PRO overseer registers a protected resource (the MCP
// server the token is for; `--resource`) and, with `--client registered`, a public client
// (`token_endpoint_auth_method: "none"`, redirect URI = the suite's callback); with
// `--client cimd` the client is a Client ID Metadata Document served here on loopback (agent-id
// runs with CIMD_ALLOW_LOOPBACK=true in e2e). The suite prints the authorization URL and waits
// for its callback: this script hands the URL to agent-id's GET /v1/oauth/authorize with the
// agent's DPoP proof (the agent consents, api.md 2.11) and delivers the 303's Location to the
// suite's callback server. Exit status: the suite's (0 = no failed check); its checks.json files
// are under DIR. Environment: AGENT_ID_BASE_URL (loopback, required).

import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { boundedFetch, describeResponse, jsonOk, originFromEnv } from './lib/agentid.mjs'
import { claimedAgent, loopbackFetch, paidOverseer, registerResource } from './lib/resources.mjs'

const { values: args } = parseArgs({
  options: {
    node: { type: 'string' }, suite: { type: 'string' }, out: { type: 'string' },
    client: { type: 'string', default: 'registered' }, timeout: { type: 'string', default: '120' },
  },
})
for (const name of ['node', 'suite', 'out']) if (!args[name]) throw new Error(`--${name} is required`)
if (!['registered', 'cimd'].includes(args.client)) throw new Error('--client is registered or cimd')

const BASE = originFromEnv('AGENT_ID_BASE_URL', { required: true })
const http = boundedFetch(BASE)
const log = (...parts) => console.error('conformance-authorization:', ...parts)

/** A free loopback port (the suite's callback server listens there). */
async function freePort () {
  const s = createServer()
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address()
  await new Promise((resolve) => s.close(resolve))
  return port
}

const port = await freePort()
const redirectUri = `http://127.0.0.1:${port}/callback`
const overseer = await paidOverseer(BASE, http, 'Conformance Overseer')
const agent = await claimedAgent(BASE, http, overseer, 'Conformance Agent')

// The resource the token is for: a URI on loopback nobody needs to serve (the suite only sends it).
const resourcePort = await freePort()
const resource = await registerResource(BASE, http, overseer, {
  uri: `http://127.0.0.1:${resourcePort}/mcp`, name: 'Conformance MCP server',
  scopes: [{ name: 'mcp:tools', description: 'Use the tools' }],
})

let clientId
let documentServer
if (args.client === 'registered') {
  const body = await jsonOk(await http(`${BASE}/v1/clients/register/overseer`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...overseer.auth },
    body: JSON.stringify({ name: 'MCP conformance suite', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' }),
  }), 201, 'public client registration')
  clientId = body.client.id
} else {
  documentServer = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/client.json') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({
        client_id: clientId, client_name: 'MCP conformance suite (CIMD)', redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'],
      }))
    }
    res.writeHead(404).end()
  })
  await new Promise((resolve) => documentServer.listen(0, '127.0.0.1', resolve))
  clientId = `http://127.0.0.1:${documentServer.address().port}/client.json`
}
log(`client ${clientId} (${args.client}), resource ${resource.uri}, callback ${redirectUri}`)

// The suite: prints the authorization URL on a line of its own, then waits for the callback.
const child = spawn(args.node, [args.suite, 'authorization', '--url', BASE, '--client-id', clientId,
  '--resource', resource.uri, '--port', String(port), '-o', args.out], { stdio: ['ignore', 'pipe', 'inherit'] })
const killer = setTimeout(() => { log('timeout: stopping the suite'); child.kill('SIGTERM') }, Number(args.timeout) * 1000)
const userAgent = loopbackFetch([BASE, `http://127.0.0.1:${port}`])
let consented = Promise.resolve()
createInterface({ input: child.stdout }).on('line', (line) => {
  console.log(line)
  if (!line.startsWith(`${BASE}/v1/oauth/authorize?`)) return
  consented = (async () => {
    const response = await userAgent(line, { headers: { dpop: await agent.proof('GET', '/v1/oauth/authorize') } })
    if (response.status !== 303) throw new Error(`GET authorize with the agent's proof: ${await describeResponse(response)}`)
    const location = response.headers.get('location')
    log(`agent consented; delivering the authorization response to ${redirectUri}`)
    const delivered = await userAgent(location)
    if (delivered.status !== 200) throw new Error(`callback: ${await describeResponse(delivered)}`)
  })()
})
const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))))
clearTimeout(killer)
documentServer?.close()
try {
  await consented
} catch (error) {
  log(String(error))
  process.exit(1)
}
process.exit(code)
