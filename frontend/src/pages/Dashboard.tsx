import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { Link, useLocation } from 'react-router'
import { api } from '../api/client'
import type { BlockedClient, OverseenAgent, Usage } from '../api/types'
import { useAuth } from '../auth/AuthContext'
import { ConfirmButton } from '../components/ConfirmButton'
import { CopyButton } from '../components/CopyButton'
import { ErrorNotice, Loading, Notice } from '../components/Notice'
import { formatDate, formatUse, hasRoom } from '../lib/format'
import { ClaimAgent } from './ClaimAgent'

export function Dashboard () {
  const { state } = useAuth()
  const overseerId = state.status === 'signed-in' ? state.overseer.id : ''
  const welcome = (useLocation().state as { welcome?: boolean } | null)?.welcome
  const [agents, setAgents] = useState<OverseenAgent[] | null>(null)
  const [usage, setUsage] = useState<Usage | null>(null)
  const [error, setError] = useState<unknown>(null)

  const load = useCallback(async () => {
    try {
      const [a, u] = await Promise.all([api.agents(overseerId), api.usage()])
      setAgents(a.agents)
      setUsage(u.usage)
      setError(null)
    } catch (e) {
      setError(e)
    }
  }, [overseerId])

  useEffect(() => { void load() }, [load])

  return (
    <>
      <h1>Dashboard</h1>
      {welcome && <Notice kind="success">Welcome to agent-id. Choose a tier on the <Link to="/subscription">Subscription</Link> page to claim agents.</Notice>}
      <ErrorNotice error={error} />
      {usage && (
        <section className="stats" aria-label="Tier use">
          <div className="stat"><span className="stat-label">Agents</span><span className="stat-value" data-testid="agents-use">{formatUse(usage.agents_claimed, usage.max_agents)}</span></div>
          <div className="stat"><span className="stat-label">OAuth grants this month</span><span className="stat-value">{formatUse(usage.oauth_count, usage.max_oauth_per_period)}</span></div>
          <div className="stat"><span className="stat-label">Clients</span><span className="stat-value">{formatUse(usage.clients_registered, usage.max_clients)}</span></div>
        </section>
      )}
      <ClaimAgent canClaim={!usage || hasRoom(usage.agents_claimed, usage.max_agents)} onClaimed={() => { void load() }} />
      <section aria-labelledby="agents-title">
        <h2 id="agents-title">Your agents</h2>
        {agents === null
          ? (error ? null : <Loading what="agents" />)
          : agents.length === 0
            ? <p className="muted">You do not oversee any agent yet.</p>
            : (
              <ul className="cards">
                {agents.map((a) => <AgentCard key={a.id} agent={a} overseerId={overseerId} oauthLimit={usage?.max_oauth_per_period ?? -1} onChange={load} />)}
              </ul>
              )}
      </section>
    </>
  )
}

function AgentCard ({ agent, overseerId, oauthLimit, onChange }: { agent: OverseenAgent, overseerId: string, oauthLimit: number, onChange: () => Promise<void> }) {
  const [error, setError] = useState<unknown>(null)
  const [marking, setMarking] = useState(false)
  const headingId = `agent-${agent.id}`
  const act = async (fn: () => Promise<unknown>) => {
    setError(null)
    try { await fn(); await onChange() } catch (e) { setError(e) }
  }
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
      <ErrorNotice error={error} />
      <p className="actions">
        <button
          type="button" className="secondary" disabled={marking} aria-pressed={agent.marked_for_cancellation}
          onClick={async () => { setMarking(true); await act(() => api.markCancellation(overseerId, agent.id, !agent.marked_for_cancellation)); setMarking(false) }}
        >{agent.marked_for_cancellation ? 'Keep on downgrade' : 'Mark for cancellation'}</button>
        <ConfirmButton
          label="Declaim" confirmLabel="Yes, declaim"
          question={`Stop overseeing ${agent.name}?`}
          onConfirm={() => act(() => api.declaim(agent.id))}
        />
      </p>
      <BlockedClients agentId={agent.id} agentName={agent.name} />
    </li>
  )
}

function BlockedClients ({ agentId, agentName }: { agentId: string, agentName: string }) {
  const [blocked, setBlocked] = useState<BlockedClient[] | null>(null)
  const [clientId, setClientId] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const load = useCallback(async () => {
    try { setBlocked((await api.blockedClients(agentId)).blocked_clients) } catch (e) { setError(e) }
  }, [agentId])
  useEffect(() => { void load() }, [load])

  const block = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await api.blockClient(agentId, clientId.trim())
      setClientId('')
      await load()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
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
              <button type="button" className="secondary small" onClick={async () => {
                setError(null)
                try { await api.unblockClient(agentId, b.client_id); await load() } catch (err) { setError(err) }
              }}>Unblock {b.client_name}</button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={block} className="inline-form" noValidate>
        <label htmlFor={inputId}>Block a client for {agentName} (client id)</label>
        <input id={inputId} value={clientId} onChange={(e) => setClientId(e.target.value)} spellCheck={false} autoComplete="off" />
        <button type="submit" disabled={busy || !clientId.trim()}>Block client</button>
      </form>
      <ErrorNotice error={error} />
    </details>
  )
}
