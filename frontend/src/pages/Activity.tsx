import { useEffect, useState } from 'react'
import { api } from '../api/client'
import type { AuditEvent } from '../api/types'
import { ErrorNotice, Loading } from '../components/Notice'
import { formatDateTime } from '../lib/format'
import { useAction } from '../lib/useAsync'

const PAGE = 20

/** Readable names for the audit types an overseer sees most. Unknown types show as they are. */
const LABELS: Record<string, string> = {
  'overseer.registered': 'Account created',
  'overseer.login': 'Logged in',
  'overseer.login_failed': 'Failed log-in',
  'overseer.logout': 'Logged out',
  'claim.initiated': 'Claim started',
  'claim.completed': 'Agent claimed',
  'oversight.declaimed': 'Agent declaimed',
  'oversight.revoked_by_agent': 'Agent revoked your oversight',
  'client.registered': 'Client registered',
  'client.deleted': 'Client deleted',
  'client.key_replaced': 'Client re-keyed',
  'client.enabled': 'Client re-enabled',
  'client.blocked': 'Client blocked',
  'client.unblocked': 'Client unblocked',
  'oauth.grant_revoked': 'Grant revoked',
  'subscription.activated': 'Subscription activated',
  'subscription.cancel_requested': 'Cancellation requested',
  'subscription.payment_problem': 'Payment failed',
}

function subject (e: AuditEvent): string {
  const d = e.details ?? {}
  const name = (d.client_name ?? d.agent_name ?? d.tier) as string | undefined
  return [name, e.subject_type && e.subject_id ? `${e.subject_type} ${e.subject_id}` : null].filter(Boolean).join(' · ')
}

export function Activity () {
  const [events, setEvents] = useState<AuditEvent[] | null>(null)
  const [cursor, setCursor] = useState<string | null>(null)
  // Pages accumulate, so loading one is an action (the first on mount, then "Load more").
  const more = useAction(async (from: string | null) => {
    const page = await api.audit(from, PAGE)
    setEvents((prev) => (from && prev ? [...prev, ...page.events] : page.events))
    setCursor(page.next_cursor)
  })
  useEffect(() => { void more.run(null) }, [more.run])

  return (
    <>
      <h1>Activity</h1>
      <p>What happened to your account, your agents and your clients, newest first.</p>
      <ErrorNotice error={more.error} />
      {events === null
        ? (more.error ? null : <Loading what="activity" />)
        : events.length === 0
          ? <p className="muted">No activity yet.</p>
          : (
            <div className="table-wrap">
              <table>
                <caption className="sr-only">Audit events</caption>
                <thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">By</th><th scope="col">About</th></tr></thead>
                <tbody>
                  {events.map((e) => (
                    <tr key={e.id} data-event-type={e.type}>
                      <td>{formatDateTime(e.created_at)}</td>
                      <td>{LABELS[e.type] ?? e.type} <code className="muted small">{e.type}</code></td>
                      <td>{e.actor_type}{e.ip ? ` (${e.ip})` : ''}</td>
                      <td>{subject(e)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            )}
      {cursor && <button type="button" className="secondary" disabled={more.busy} onClick={() => { void more.run(cursor) }}>{more.busy ? 'Loading…' : 'Load more'}</button>}
    </>
  )
}
