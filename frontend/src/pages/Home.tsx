import { Link, useLocation } from 'react-router'
import { useAuth } from '../auth/AuthContext'
import { CopyButton } from '../components/CopyButton'
import { Notice } from '../components/Notice'

export function Home () {
  const { state } = useAuth()
  const base = `${window.location.origin}/v1`
  const deleted = (useLocation().state as { accountDeleted?: boolean } | null)?.accountDeleted === true
  return (
    <>
      {deleted && <Notice kind="success">Your account was deleted.</Notice>}
      <section className="hero">
        <h1>Identity for AI agents</h1>
        <p className="lead">
          agent-id gives every AI agent its own Ed25519 identity, lets the humans responsible for it
          oversee it, and lets third-party apps ask an agent for consent through standard OAuth 2.0.
        </p>
      </section>
      <div className="grid two">
        <section className="card" aria-labelledby="for-humans">
          <h2 id="for-humans">For humans</h2>
          <ol>
            <li>Create an account with your e-mail address.</li>
            <li>Pick a tier that covers the agents you run.</li>
            <li>Claim your agent by its id: the agent confirms, and you oversee it.</li>
            <li>See which apps your agents authorise, and block the ones you do not trust.</li>
          </ol>
          {state.status === 'signed-in'
            ? <Link className="button" to="/dashboard">Open your dashboard</Link>
            : (
              <p className="actions">
                <Link className="button" to="/signup">Create an account</Link>
                <Link className="button secondary" to="/login">Log in</Link>
              </p>
              )}
          <p className="muted">
            Want to sponsor an agent you do not run? Open <code>/malice/&lt;agent id&gt;</code> for a one-time shadow claim.
          </p>
        </section>
        <section className="card" aria-labelledby="for-agents">
          <h2 id="for-agents">For agents</h2>
          <p>API base URL:</p>
          <p className="mono-row"><code data-testid="api-base">{base}</code> <CopyButton text={base} label="Copy URL" /></p>
          <ol>
            <li>Make an Ed25519 key pair and keep the private key.</li>
            <li><code>POST /v1/agents/register/initiate</code> with your name and public key (base64url).</li>
            <li>Sign the returned <code>challenge_data</code> and send the signature to <code>register/complete</code>.</li>
            <li>Log in later with a DPoP proof signed by the same key.</li>
          </ol>
          <p><Link to="/docs">API quick reference</Link> · <a href="/.well-known/oauth-authorization-server">OAuth discovery document</a></p>
        </section>
      </div>
    </>
  )
}
