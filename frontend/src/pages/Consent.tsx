// Consent by the overseer (issue 10 item 5): an app (an MCP host, say) opened agent-id's
// authorization URL in the browser, which sent it here with the same query. The signed-in
// overseer sees who asks (a metadata-document client's host big), for which resource and scopes,
// and where the browser goes next; picks one of its agents the app will act as, and approves or
// denies. The server answers with `redirect_to`, where the browser is sent by a full navigation.
import { useState, type FormEvent } from 'react'
import { useLocation } from 'react-router'
import { consentApi } from '../api/client'
import type { ConsentAgent, ConsentDecision, ConsentRequest } from '../api/types'
import { ErrorNotice, Loading, Notice } from '../components/Notice'
import { leave } from '../lib/leave'
import { useAction, useLoad } from '../lib/useAsync'

/** The authorization request's parameters the decision repeats (`resource` may repeat). */
const PARAMS = ['response_type', 'client_id', 'redirect_uri', 'code_challenge', 'code_challenge_method',
  'scope', 'state', 'dpop_jkt'] as const

/** The decision's body: the query's parameters, the agent and the decision. */
export function decisionBody (search: string, agentId: string, decision: 'approve' | 'deny'): ConsentDecision {
  const q = new URLSearchParams(search)
  const body: ConsentDecision = { agent_id: agentId, decision }
  for (const name of PARAMS) {
    const v = q.get(name)
    if (v !== null) body[name] = v
  }
  const resources = q.getAll('resource')
  if (resources.length === 1) body.resource = resources[0]!
  else if (resources.length > 1) body.resource = resources
  return body
}

const REASONS: Record<NonNullable<ConsentAgent['reason']>, string> = {
  overseer_consent_forbidden: 'This agent does not allow you to consent in its name.',
  client_blocked: 'You blocked this app for this agent.',
  oauth_limit_reached: 'This agent reached its monthly authorization limit.',
}

export function Consent () {
  const search = useLocation().search.replace(/^\?/, '')
  const request = useLoad(() => consentApi.describe(search), [search])
  const r = request.data
  return (
    <div className="narrow">
      <h1>{r ? `Authorize ${r.client.name}` : 'Authorize an app'}</h1>
      <ErrorNotice error={request.error} />
      {r ? <Decide request={r} search={search} /> : request.error ? null : <Loading what="the request" />}
    </div>
  )
}

function Decide ({ request: r, search }: { request: ConsentRequest, search: string }) {
  const eligible = r.agents.filter((a) => a.eligible)
  const [agentId, setAgentId] = useState('')
  const decide = useAction(async (decision: 'approve' | 'deny') => {
    const { redirect_to: to } = await consentApi.decide(decisionBody(search, agentId, decision))
    leave.to(to)
  })
  const submit = (decision: 'approve' | 'deny') => (e?: FormEvent) => {
    e?.preventDefault()
    void decide.run(decision)
  }
  return (
    <>
      <section className="card" aria-labelledby="who-title">
        <h2 id="who-title">Who is asking</h2>
        {r.client.url_host && <p className="price" data-testid="client-host">{r.client.url_host}</p>}
        <p><strong>{r.client.name}</strong> wants to act as one of your agents.</p>
        <p className="muted small">Client id <code>{r.client.client_id}</code></p>
        {r.resources.length > 0 && (
          <>
            <h3>For</h3>
            <ul className="plain">
              {r.resources.map((res) => (
                <li key={res.uri}>{res.name ?? 'Unregistered resource'} <code className="small">{res.uri}</code></li>
              ))}
            </ul>
          </>
        )}
        <h3>It will see</h3>
        <ul>
          {r.scopes.map((s) => <li key={s.name}><code>{s.name}</code>: {s.description}</li>)}
        </ul>
        <p>After your decision you go to <strong data-testid="redirect-host">{r.redirect_host}</strong>.</p>
      </section>
      <form onSubmit={submit('approve')}>
        <fieldset>
          <legend>Act as</legend>
          {r.agents.length === 0 && <p className="muted">You oversee no agents yet.</p>}
          {r.agents.map((a) => (
            <div key={a.id}>
              <input
                type="radio" name="agent" id={`agent-${a.id}`} value={a.id}
                checked={agentId === a.id} disabled={!a.eligible}
                aria-describedby={a.reason ? `agent-${a.id}-why` : undefined}
                onChange={() => setAgentId(a.id)}
              />
              <label htmlFor={`agent-${a.id}`}>{a.name}</label>
              {a.reason && <span className="hint" id={`agent-${a.id}-why`}> {REASONS[a.reason]}</span>}
            </div>
          ))}
        </fieldset>
        {r.agents.length > 0 && eligible.length === 0 && (
          <Notice>None of your agents can be used for this app now.</Notice>
        )}
        <ErrorNotice error={decide.error} />
        <div className="actions">
          <button type="submit" disabled={!agentId || decide.busy}>Approve</button>
          <button type="button" className="secondary" disabled={!agentId || decide.busy} onClick={submit('deny')}>Deny</button>
        </div>
      </form>
    </>
  )
}
