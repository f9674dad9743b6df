import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter, Route, Routes } from 'react-router'
import type { AuditEvent, LiveGrant, OverseenAgent } from '../api/types'
import { apiError, fakeServer, ok, sequence } from '../test/fakeServer'
import { AgentDetail, concernsAgent } from './AgentDetail'

const AGENT = '6f1c2b9e-3333-4000-8000-000000000001'
const OTHER = '6f1c2b9e-3333-4000-8000-000000000002'
const GRANTS = `/v1/overseers/agents/${AGENT}/grants?limit=100`
const TRAIL = '/v1/overseers/me/audit?limit=100'

const agent: OverseenAgent = {
  id: AGENT, name: 'Helper', description: 'Books trains', public_key: 'pk-helper',
  created_at: '2026-01-01T00:00:00.000Z', claimed_at: '2026-01-02T00:00:00.000Z',
  marked_for_cancellation: false, oauth_count: 2, clients_registered: 0,
}
const grant = (n: number, name: string): LiveGrant => ({
  id: `9a000000-0000-4000-8000-00000000000${n}`,
  client: { id: `c1000000-0000-4000-8000-00000000000${n}`, name },
  scopes: 'id name', resources: null,
  consented_at: '2026-02-01T10:00:00.000Z', consented_by: 'agent', last_used_at: '2026-02-03T10:00:00.000Z',
})
const calendar = grant(1, 'Calendar App')
const mail = grant(2, 'Mail App')
const event = (id: string, type: string, over: Partial<AuditEvent>): AuditEvent => ({
  id, type, actor_type: 'overseer', actor_id: null, subject_type: null, subject_id: null, details: {}, ip: null,
  created_at: '2026-02-04T10:00:00.000Z', ...over,
})
const trail = [
  event('e1', 'client.blocked', { subject_type: 'client', subject_id: 'c9', details: { agent_id: AGENT, client_id: 'c9' } }),
  event('e2', 'claim.completed', { subject_type: 'agent', subject_id: OTHER }),
  event('e3', 'agent.login', { actor_type: 'agent', subject_type: 'agent', subject_id: AGENT }),
]
const list = (grants: LiveGrant[]) => ok({ agent_id: AGENT, grants, next_cursor: null })

function renderAt (agentId: string) {
  render(
    <MemoryRouter initialEntries={[`/agents/${agentId}`]}>
      <Routes><Route path="/agents/:agentId" element={<AgentDetail />} /></Routes>
    </MemoryRouter>,
  )
}

describe('AgentDetail', () => {
  it('shows the profile, the live grants and only this agent\'s recent activity', async () => {
    const server = fakeServer()
      .on('GET', '/v1/overseers/me/agents', ok({ agents: [agent] }))
      .on('GET', GRANTS, list([calendar, mail]))
      .on('GET', TRAIL, ok({ events: trail, next_cursor: null }))
    renderAt(AGENT)
    expect(await screen.findByRole('heading', { level: 1, name: 'Helper' })).toBeTruthy()
    expect(screen.getByText('pk-helper')).toBeTruthy()
    const table = await screen.findByRole('table', { name: 'Live grants of Helper' })
    const rows = within(table).getAllByRole('row').slice(1)
    expect(rows.map((r) => within(r).getAllByRole('cell')[0]!.textContent)).toEqual([
      `Calendar App ${calendar.client.id}`, `Mail App ${mail.client.id}`,
    ])
    expect(rows[0]!.textContent).toContain('by agent')
    const activity = await screen.findByRole('table', { name: 'Recent activity' })
    expect(within(activity).getAllByRole('row').slice(1).map((tr) => tr.getAttribute('data-event-type')))
      .toEqual(['client.blocked', 'agent.login'])
    expect(server.unhandled).toEqual([])
  })

  it('revokes a grant only after the confirmation, then shows the list without it', async () => {
    const server = fakeServer()
      .on('GET', '/v1/overseers/me/agents', ok({ agents: [agent] }))
      .on('GET', GRANTS, sequence(list([calendar, mail]), list([mail])))
      .on('GET', TRAIL, ok({ events: [], next_cursor: null }))
      .on('DELETE', `/v1/overseers/agents/${AGENT}/grants/${calendar.id}`, ok({ message: 'Grant revoked', grant_id: calendar.id }))
    renderAt(AGENT)
    const user = userEvent.setup({ delay: null })
    await user.click(await screen.findByRole('button', { name: 'Revoke Calendar App' }))
    // "Keep" backs out without a request.
    await user.click(screen.getByRole('button', { name: 'Keep' }))
    expect(server.calls('DELETE', `/v1/overseers/agents/${AGENT}/grants/${calendar.id}`)).toEqual([])
    await user.click(screen.getByRole('button', { name: 'Revoke Calendar App' }))
    const confirm = screen.getByRole('button', { name: 'Yes, revoke' })
    expect(document.activeElement).toBe(confirm)
    await user.keyboard('{Enter}')
    expect(await screen.findByRole('button', { name: 'Revoke Mail App' })).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Revoke Calendar App' })).toBeNull()
    expect(server.calls('DELETE', `/v1/overseers/agents/${AGENT}/grants/${calendar.id}`)).toHaveLength(1)
    expect(server.calls('GET', GRANTS)).toHaveLength(2)
  })

  it('says so when the grant had already ended', async () => {
    fakeServer()
      .on('GET', '/v1/overseers/me/agents', ok({ agents: [agent] }))
      .on('GET', GRANTS, list([calendar]))
      .on('GET', TRAIL, ok({ events: [], next_cursor: null }))
      .on('DELETE', `/v1/overseers/agents/${AGENT}/grants/${calendar.id}`, apiError(404, 'grant_not_found'))
    renderAt(AGENT)
    const user = userEvent.setup({ delay: null })
    await user.click(await screen.findByRole('button', { name: 'Revoke Calendar App' }))
    await user.click(screen.getByRole('button', { name: 'Yes, revoke' }))
    expect((await screen.findByRole('alert')).textContent).toBe('This grant has already ended.')
  })

  it('asks nothing more about an agent the overseer does not oversee', async () => {
    const server = fakeServer().on('GET', '/v1/overseers/me/agents', ok({ agents: [agent] }))
    renderAt(OTHER)
    expect(await screen.findByText('You do not oversee an agent with this id.')).toBeTruthy()
    expect(server.requests.map((r) => r.path)).toEqual(['/v1/overseers/me/agents'])
  })

  it('matches events about the agent as subject or in the details', () => {
    expect(trail.map((e) => concernsAgent(e, AGENT))).toEqual([true, false, true])
  })
})
