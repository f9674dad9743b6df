import { useState, type FormEvent } from 'react'
import { Link, useLocation } from 'react-router'
import { api } from '../api/client'
import type { OverseenAgent } from '../api/types'
import { useAuth } from '../auth/AuthContext'
import { ConfirmButton } from '../components/ConfirmButton'
import { CopyButton } from '../components/CopyButton'
import { ErrorNotice, Loading, Notice } from '../components/Notice'
import { formatDate, formatUse, hasRoom } from '../lib/format'
import { useAction, useLoad } from '../lib/useAsync'
import { ClaimAgent } from './ClaimAgent'
import { EmailVerificationStatus } from './VerifyEmail'

export function Dashboard () {
  const { state } = useAuth()
  const overseerId = state.status === 'signed-in' ? state.overseer.id : ''
  const welcome = (useLocation().state as { welcome?: boolean } | null)?.welcome
  const load = useLoad(async () => {
    const [a, u] = await Promise.all([api.agents(overseerId), api.usage()])
    return { agents: a.agents, usage: u.usage }
  }, [overseerId])
  const agents = load.data?.agents ?? null
  const usage = load.data?.usage ?? null

  return (
    <>
      <h1>Dashboard</h1>
      {welcome && <Notice kind="success">Welcome to agent-id. Choose a tier on the <Link to="/subscription">Subscription</Link> page to claim agents.</Notice>}
      <EmailVerificationStatus />
      <ErrorNotice error={load.error} />
      {usage && (
        <section className="stats" aria-label="Tier use">
          <div className="stat"><span className="stat-label">Agents</span><span className="stat-value" data-testid="agents-use">{formatUse(usage.agents_claimed, usage.max_agents)}</span></div>
          <div className="stat"><span className="stat-label">OAuth grants this month</span><span className="stat-value">{formatUse(usage.oauth_count, usage.max_oauth_per_period)}</span></div>
          <div className="stat"><span className="stat-label">Clients</span><span className="stat-value">{formatUse(usage.clients_registered, usage.max_clients)}</span></div>
        </section>
      )}
      <ClaimAgent canClaim={!usage || hasRoom(usage.agents_claimed, usage.max_agents)} onClaimed={() => { void load.reload() }} />
      <section aria-labelledby="agents-title">
        <h2 id="agents-title">Your agents</h2>
        {agents === null
          ? (load.error ? null : <Loading what="agents" />)
          : agents.length === 0
            ? <p className="muted">You do not oversee any agent yet.</p>
            : (
              <ul className="cards">
                {agents.map((a) => <AgentCard key={a.id} agent={a} overseerId={overseerId} oauthLimit={usage?.max_oauth_per_period ?? -1} onChange={load.reload} />)}
              </ul>
              )}
      </section>
    </>
  )
}

function AgentCard ({ agent, overseerId, oauthLimit, onChange }: { agent: OverseenAgent, overseerId: string, oauthLimit: number, onChange: () => Promise<void> }) {
  const act = useAction(async (fn: () => Promise<unknown>) => { await fn(); await onChange() })
  const headingId = `agent-${agent.id}`
  return (
    <li className="card agent" aria-labelledby={headingId}>
      <h3 id={headingId}>{agent.name}</h3>
      {agent.description && <p className="muted">{agent.description}</p>}
      <dl className="facts">
        <dt>Agent id</dt>
        <dd><code>{agent.id}</code> <CopyButton text={agent.id} label="Copy id" /></dd>
        <dt>OAuth grants this month</dt>
        <dd>{formatUse(agent.oauth_count, oauthLimit)}</dd>
        <dt>Clients registered</dt>
        <dd>{agent.clients_registered}</dd>
        <dt>Claimed</dt>
        <dd>{formatDate(agent.claimed_at)}</dd>
      </dl>
      {agent.marked_for_cancellation && <Notice>Marked for cancellation: released first when your tier shrinks.</Notice>}
      <ErrorNotice error={act.error} />
      <p className="actions">
        <button
          type="button" className="secondary" disabled={act.busy} aria-pressed={agent.marked_for_cancellation}
          onClick={() => { void act.run(() => api.markCancellation(overseerId, agent.id, !agent.marked_for_cancellation)) }}
        >{agent.marked_for_cancellation ? 'Keep on downgrade' : 'Mark for cancellation'}</button>
        <ConfirmButton
          label="Declaim" confirmLabel="Yes, declaim"
          question={`Stop overseeing ${agent.name}?`}
          onConfirm={() => act.run(() => api.declaim(agent.id))}
        />
      </p>
      <BlockedClients agentId={agent.id} agentName={agent.name} />
    </li>
  )
}

function BlockedClients ({ agentId, agentName }: { agentId: string, agentName: string }) {
  const list = useLoad(async () => (await api.blockedClients(agentId)).blocked_clients, [agentId])
  const blocked = list.data
  const [clientId, setClientId] = useState('')
  const change = useAction(async (fn: () => Promise<unknown>) => { await fn(); await list.reload() })

  const block = (e: FormEvent) => {
    e.preventDefault()
    void change.run(async () => { await api.blockClient(agentId, clientId.trim()); setClientId('') })
  }
  const inputId = `block-${agentId}`
  return (
    <details className="blocks">
      <summary>Blocked clients{blocked ? ` (${blocked.length})` : ''}</summary>
      {blocked && blocked.length > 0 && (
        <ul className="plain">
          {blocked.map((b) => (
            <li key={b.client_id}>
              <span>{b.client_name} <code className="muted">{b.client_id}</code></span>
              <button type="button" className="secondary small" onClick={() => { void change.run(() => api.unblockClient(agentId, b.client_id)) }}>Unblock {b.client_name}</button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={block} className="inline-form" noValidate>
        <label htmlFor={inputId}>Block a client for {agentName} (client id)</label>
        <input id={inputId} value={clientId} onChange={(e) => setClientId(e.target.value)} spellCheck={false} autoComplete="off" />
        <button type="submit" disabled={change.busy || !clientId.trim()}>Block client</button>
      </form>
      <ErrorNotice error={change.error ?? list.error} />
    </details>
  )
}
