import { fireEvent, render, screen, waitFor } from '@testing-library/react'
import { MemoryRouter } from 'react-router'
import type { Subscription as Sub } from '../api/types'
import { apiError, fakeServer, ok, type FakeServer } from '../test/fakeServer'
import { Subscription } from './Subscription'

const PORTAL = '/v1/subscriptions/portal'
const PORTAL_URL = 'http://127.0.0.1:9999/portal/cpls_1/overview?token=t'

const sub = (extra: Partial<Sub> = {}): Sub => ({
  id: 'sub_1', tier: 'PRO', status: 'active', is_active: true, is_free_tier: false, max_agents: 5,
  max_clients: 5, max_oauth_per_period: 1000, billing_period_start: '2026-05-01T00:00:00.000Z',
  billing_period_end: '2026-06-01T00:00:00.000Z', next_billed_at: '2026-06-01T00:00:00.000Z',
  grace_period_end: null, will_renew: true, scheduled_cancel_at: null, ...extra,
})

function serve (subscription: Sub): FakeServer {
  return fakeServer()
    .on('GET', '/v1/subscriptions/me', ok({ subscription }))
    .on('GET', '/v1/subscriptions/usage', ok({ usage: {
      agents_claimed: 0, clients_registered: 0, oauth_count: 0, max_agents: 5, max_clients: 5,
      max_oauth_per_period: 1000, period_start: '2026-05-01T00:00:00.000Z', period_end: '2026-06-01T00:00:00.000Z',
      resources_registered: 0, max_resources: 10,
    } }))
    .on('GET', '/v1/subscriptions/tiers', ok({ tiers: [], billing: { configured: true, paddle_environment: 'sandbox', paddle_client_token: 't' } }))
}

function setup () {
  const go = vi.fn()
  render(<MemoryRouter><Subscription go={go} /></MemoryRouter>)
  return go
}

describe('Subscription: Manage billing', () => {
  it('opens the Paddle portal session the server created', async () => {
    const server = serve(sub()).on('POST', PORTAL, ok({ url: PORTAL_URL, subscriptions: [] }))
    const go = setup()
    fireEvent.click(await screen.findByRole('button', { name: 'Manage billing' }))
    await waitFor(() => expect(go).toHaveBeenCalledWith(PORTAL_URL))
    expect(server.calls('POST', PORTAL)).toHaveLength(1)
  })

  it('says why when there is no billing account yet', async () => {
    serve(sub()).on('POST', PORTAL, apiError(400, 'no_billing_customer'))
    const go = setup()
    fireEvent.click(await screen.findByRole('button', { name: 'Manage billing' }))
    expect((await screen.findByRole('alert')).textContent).toBe('server says no_billing_customer')
    expect(go).not.toHaveBeenCalled()
  })

  it('is not offered without a subscription', async () => {
    serve(sub({ id: null, tier: 'FREE', status: 'free', is_free_tier: true }))
    setup()
    await screen.findByTestId('current-tier')
    expect(screen.queryByRole('button', { name: 'Manage billing' })).toBeNull()
  })
})
