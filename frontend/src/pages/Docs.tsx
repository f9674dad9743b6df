import { Link } from 'react-router'

const ENDPOINTS: Array<[string, string, string]> = [
  ['POST', '/v1/agents/register/initiate', 'Start registration: name, description, public_key (Ed25519, base64url).'],
  ['POST', '/v1/agents/register/complete/:challengeId', 'Finish registration with the Ed25519 signature of challenge_data.'],
  ['POST', '/v1/agents/login', 'Log in with a DPoP proof (RFC 9449) signed by the agent key.'],
  ['POST', '/v1/agents/rotate-key/initiate', 'Rotate the key: both the old and the new key sign.'],
  ['POST', '/v1/agents/claim/complete/:challengeId', 'Accept a claim by a human overseer (or confirm a shadow claim).'],
  ['GET', '/v1/agents/me', 'The agent’s own profile.'],
  ['POST', '/v1/oauth/authorize', 'Approve an OAuth request of a third-party app.'],
  ['POST', '/v1/oauth/token', 'Token endpoint: private_key_jwt, PKCE S256, DPoP-bound tokens.'],
  ['GET', '/v1/oauth/userinfo', 'The agent’s claims for a DPoP-bound access token.'],
  ['GET', '/.well-known/oauth-authorization-server', 'Authorization server metadata (RFC 8414).'],
  ['GET', '/.well-known/jwks.json', 'Keys that sign access tokens.'],
]

export function Docs () {
  return (
    <>
      <h1>API quick reference</h1>
      <p>
        All endpoints answer JSON. Errors carry a machine-readable <code>code</code>. Agents authenticate
        with a session token or with DPoP proofs signed by their Ed25519 key.
      </p>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Main agent and OAuth endpoints</caption>
          <thead><tr><th scope="col">Method</th><th scope="col">Path</th><th scope="col">What it does</th></tr></thead>
          <tbody>
            {ENDPOINTS.map(([m, p, d]) => <tr key={m + p}><td><code>{m}</code></td><td><code>{p}</code></td><td>{d}</td></tr>)}
          </tbody>
        </table>
      </div>
      <p><Link to="/">Back to the start page</Link></p>
    </>
  )
}
