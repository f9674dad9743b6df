// One overseen agent: its profile, the live grants it gave OAuth clients (each revocable after a
// confirmation), and its recent activity from the overseer's audit trail.
import { Link, useParams } from 'react-router'
import { api } from '../api/client'
import type { AuditEvent, LiveGrant, OverseenAgent } from '../api/types'
import { ConfirmButton } from '../components/ConfirmButton'
import { CopyButton } from '../components/CopyButton'
import { ErrorNotice, Loading, Notice } from '../components/Notice'
import { formatDate, formatDateTime } from '../lib/format'
import { useAction, useLoad } from '../lib/useAsync'

/** How many audit events are read to find the agent's recent ones, and how many are shown. */
const TRAIL_PAGE = 100
const RECENT = 15

/** Whether an event of the overseer's trail concerns `agentId`. */
export function concernsAgent (e: AuditEvent, agentId: string): boolean {
  return (e.subject_type === 'agent' && e.subject_id === agentId) || e.details?.agent_id === agentId
}

export function AgentDetail () {
  const agentId = useParams().agentId ?? ''
  const profile = useLoad(async () => (await api.myAgents()).agents.find((a) => a.id === agentId) ?? null, [agentId])
  const agent = profile.data

  return (
    <>
      <p><Link to="/dashboard">← Dashboard</Link></p>
      <h1>{agent ? agent.name : 'Agent'}</h1>
      <ErrorNotice error={profile.error} />
      {profile.loading && !agent && !profile.error
        ? <Loading what="agent" />
        : agent
          ? (
            <>
              <Profile agent={agent} />
              <Grants agentId={agent.id} agentName={agent.name} />
              <RecentActivity agentId={agent.id} />
            </>
            )
          : profile.error ? null : <Notice>You do not oversee an agent with this id.</Notice>}
    </>
  )
}

function Profile ({ agent }: { agent: OverseenAgent }) {
  return (
    <section aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      {agent.description && <p className="muted">{agent.description}</p>}
      <dl className="facts">
        <dt>Agent id</dt>
        <dd><code>{agent.id}</code> <CopyButton text={agent.id} label="Copy id" /></dd>
        <dt>Public key</dt>
        <dd><code className="small">{agent.public_key}</code></dd>
        <dt>Registered</dt>
        <dd>{formatDate(agent.created_at)}</dd>
        <dt>Claimed</dt>
        <dd>{formatDate(agent.claimed_at)}</dd>
      </dl>
    </section>
  )
}

function Grants ({ agentId, agentName }: { agentId: string, agentName: string }) {
  const list = useLoad(() => api.agentGrants(agentId), [agentId])
  const revoke = useAction(async (grantId: string) => {
    await api.revokeGrant(agentId, grantId)
    await list.reload()
  })
  const grants = list.data?.grants ?? null
  return (
    <section aria-labelledby="grants-title">
      <h2 id="grants-title">Live grants</h2>
      <p className="muted">Apps {agentName} has allowed to act for it. Revoking one ends its access at once: its tokens stop working and it must ask {agentName} again.</p>
      <ErrorNotice error={revoke.error ?? list.error} />
      {grants === null
        ? (list.error ? null : <Loading what="grants" />)
        : grants.length === 0
          ? <p className="muted">No live grants.</p>
          : (
            <div className="table-wrap">
              <table>
                <caption className="sr-only">Live grants of {agentName}</caption>
                <thead><tr><th scope="col">App</th><th scope="col">Scopes</th><th scope="col">Consented</th><th scope="col">Last used</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
                <tbody>
                  {grants.map((g) => <GrantRow key={g.id} grant={g} onRevoke={() => revoke.run(g.id)} />)}
                </tbody>
              </table>
            </div>
            )}
      {list.data?.next_cursor && <p className="muted">Showing the newest {grants?.length} grants.</p>}
    </section>
  )
}

function GrantRow ({ grant, onRevoke }: { grant: LiveGrant, onRevoke: () => Promise<void> }) {
  return (
    <tr data-grant-id={grant.id}>
      <td>{grant.client.name} <code className="muted small">{grant.client.id}</code></td>
      <td>{grant.scopes || '—'}</td>
      <td>{formatDateTime(grant.consented_at)} <span className="muted">by {grant.consented_by}</span></td>
      <td>{formatDateTime(grant.last_used_at)}</td>
      <td>
        <ConfirmButton
          label={`Revoke ${grant.client.name}`} confirmLabel="Yes, revoke"
          question={`Revoke ${grant.client.name}'s access?`}
          onConfirm={onRevoke}
        />
      </td>
    </tr>
  )
}

function RecentActivity ({ agentId }: { agentId: string }) {
  const trail = useLoad(async () => (await api.audit(null, TRAIL_PAGE)).events, [agentId])
  const events = trail.data?.filter((e) => concernsAgent(e, agentId)).slice(0, RECENT) ?? null
  return (
    <section aria-labelledby="activity-title">
      <h2 id="activity-title">Recent activity</h2>
      <ErrorNotice error={trail.error} />
      {events === null
        ? (trail.error ? null : <Loading what="activity" />)
        : events.length === 0
          ? <p className="muted">No recent activity for this agent.</p>
          : (
            <div className="table-wrap">
              <table>
                <caption className="sr-only">Recent activity</caption>
                <thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">By</th></tr></thead>
                <tbody>
                  {events.map((e) => (
                    <tr key={e.id} data-event-type={e.type}>
                      <td>{formatDateTime(e.created_at)}</td>
                      <td><code className="small">{e.type}</code></td>
                      <td>{e.actor_type}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            )}
      <p><Link to="/activity">All activity</Link></p>
    </section>
  )
}
