// Fake timers drive the polling, so the DOM is driven with fireEvent (user-event waits on timers).
import { fireEvent, render, screen } from '@testing-library/react'
import { StrictMode } from 'react'
import { MemoryRouter, Route, Routes } from 'react-router'
import type { ShadowChallenge, ShadowStatus } from '../api/types'
import { advance, apiError, created, fakeServer, ok, sequence } from '../test/fakeServer'
import { ShadowClaim } from './ShadowClaim'

const NOW = Date.parse('2026-05-01T12:00:00.000Z')
const EXPIRES_AT = new Date(NOW + 15 * 60_000).toISOString()

let agentSeq = 0
/** A fresh agent per test: the page keeps a started claim per agent for the tab. */
const newAgentId = () => `6f1c2b9e-2222-4000-8000-${String(++agentSeq).padStart(12, '0')}`
const initiatePath = (agentId: string) => `/v1/agents/malice/${agentId}`
const statusPath = (challengeId: string) => `/v1/agents/malice/status/${challengeId}`

function challenge (agentId: string, n = 1): ShadowChallenge {
  return {
    challenge_id: `5c0ffee0-0000-4000-8000-00000000000${n}`,
    shadow_overseer_id: `ab5e0000-0000-4000-8000-00000000000${n}`,
    agent_id: agentId,
    expires_at: EXPIRES_AT,
    expires_in: 900,
    complete_url: `https://id.example/v1/agents/malice/complete/5c0ffee0-0000-4000-8000-00000000000${n}`,
  }
}

const initiated = (c: ShadowChallenge): ShadowStatus => ({
  challenge_id: c.challenge_id, status: 'initiated', agent_id: c.agent_id, agent_name: 'Helpful Bot', expires_at: EXPIRES_AT,
})
const awaitingPayment = (c: ShadowChallenge): ShadowStatus => ({
  ...initiated(c),
  status: 'awaiting-payment',
  shadow_overseer_id: c.shadow_overseer_id,
  paddle_price_id: 'pri_shadow_30d',
  price: 19,
  currency: 'USD',
  capabilities: { max_clients: 5, max_oauth_per_period: -1, validity_days: 30 },
  custom_data: { kind: 'shadow_claim', challenge_id: c.challenge_id, sig: 'mac' },
  paddle_environment: 'sandbox',
  paddle_client_token: 'test_token',
})

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(NOW)
})
afterEach(() => { vi.useRealTimers() })

async function renderPage (agentId: string) {
  render(
    <StrictMode>
      <MemoryRouter initialEntries={[`/malice/${agentId}`]}>
        <Routes>
          <Route path="/malice/:agentId" element={<ShadowClaim />} />
        </Routes>
      </MemoryRouter>
    </StrictMode>,
  )
  await advance()
}

async function click (name: string) {
  fireEvent.click(screen.getByRole('button', { name }))
  await advance()
}

describe('ShadowClaim', () => {
  it('starts the claim once under StrictMode and shows what the agent must do', async () => {
    const agentId = newAgentId()
    const c = challenge(agentId)
    const server = fakeServer().on('POST', initiatePath(agentId), created(c))
    await renderPage(agentId)

    expect(server.calls('POST', initiatePath(agentId))).toHaveLength(1)
    const instruction = screen.getByTestId('shadow-instruction').textContent!
    expect(instruction).toContain(c.complete_url)
    expect(instruction).toContain(JSON.stringify({ overseer_id: c.shadow_overseer_id }))
    expect(screen.getByTestId('shadow-overseer-id').textContent).toBe(c.shadow_overseer_id)
    expect(screen.getByTestId('shadow-challenge-id').textContent).toBe(c.challenge_id)
    expect(screen.getByTestId('countdown').textContent).toBe('15:00')
    expect(sessionStorage.getItem(`agent-id:shadow:${agentId}`)).toContain(c.challenge_id)
  })

  it('follows the status from the agent confirming to payment to done', async () => {
    const agentId = newAgentId()
    const c = challenge(agentId)
    const done: ShadowStatus = { ...awaitingPayment(c), status: 'completed' }
    const server = fakeServer()
      .on('POST', initiatePath(agentId), created(c))
      .on('GET', statusPath(c.challenge_id), sequence(ok(initiated(c)), ok(awaitingPayment(c)), ok(done)))
    await renderPage(agentId)
    expect(screen.queryByRole('button', { name: 'Pay with Paddle' })).toBeNull()

    await advance(2000) // initiated: still waiting for the agent
    expect(server.calls('GET', statusPath(c.challenge_id))).toHaveLength(1) // one schedule despite StrictMode
    expect(screen.getByText('Helpful Bot')).toBeTruthy()
    expect(screen.getByText('Waiting for the agent to confirm.')).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Pay with Paddle' })).toBeNull()

    await advance(3000) // awaiting-payment: the price and the pay button
    expect(server.calls('GET', statusPath(c.challenge_id))).toHaveLength(2)
    expect(screen.getByRole('button', { name: 'Pay with Paddle' })).toBeTruthy()
    const price = screen.getByTestId('shadow-price').textContent!
    expect(price).toMatch(/19(\.00)?/)
    expect(price).toMatch(/\$|USD/)
    expect(screen.getByRole('heading', { name: '2. Pay' }).parentElement!.textContent)
      .toContain('for 30 days (5 OAuth clients, unlimited OAuth grants a month)')
    expect(screen.queryByTestId('shadow-instruction')).toBeNull()
    expect(screen.getByText('Waiting for the payment.')).toBeTruthy()

    await advance(4500) // completed: thanks, and no more polling
    expect(screen.getByText(/Helpful Bot now has the paid tier for 30 days/)).toBeTruthy()
    await advance(10 * 60_000)
    expect(server.calls('GET', statusPath(c.challenge_id))).toHaveLength(3)
    expect(server.calls('POST', initiatePath(agentId))).toHaveLength(1)
    expect(server.unhandled).toEqual([])
  })

  it('says so when no agent has this id, without offering a retry', async () => {
    const agentId = newAgentId()
    const server = fakeServer().on('POST', initiatePath(agentId), apiError(404, 'agent_not_found'))
    await renderPage(agentId)
    expect(screen.getByRole('alert').textContent).toBe('No agent with this id exists.')
    expect(screen.queryByRole('button', { name: 'Try again' })).toBeNull()
    expect(server.calls('POST', initiatePath(agentId))).toHaveLength(1)
  })

  it('offers a retry after a passing failure', async () => {
    const agentId = newAgentId()
    const c = challenge(agentId)
    const server = fakeServer().on('POST', initiatePath(agentId), sequence(apiError(503, 'unavailable'), created(c)))
    await renderPage(agentId)
    expect(screen.getByRole('alert').textContent).toBe('server says unavailable')
    await click('Try again')
    expect(server.calls('POST', initiatePath(agentId))).toHaveLength(2)
    expect(screen.getByTestId('shadow-challenge-id').textContent).toBe(c.challenge_id)
  })

  it('shows an expired claim and starts a new one on request', async () => {
    const agentId = newAgentId()
    const first = challenge(agentId, 1)
    const second = challenge(agentId, 2)
    const server = fakeServer()
      .on('POST', initiatePath(agentId), sequence(created(first), created(second)))
      .on('GET', statusPath(first.challenge_id), ok({ challenge_id: first.challenge_id, status: 'expired' }))
      .on('GET', statusPath(second.challenge_id), ok(initiated(second)))
    await renderPage(agentId)

    await advance(2000)
    expect(screen.getByRole('alert').textContent).toBe('This shadow claim expired before it was completed.')
    expect(screen.queryByTestId('shadow-instruction')).toBeNull()

    await click('Start a new shadow claim')
    expect(server.calls('POST', initiatePath(agentId))).toHaveLength(2)
    expect(screen.getByTestId('shadow-challenge-id').textContent).toBe(second.challenge_id)
    expect(screen.getByTestId('shadow-overseer-id').textContent).toBe(second.shadow_overseer_id)
  })

  it('shows the expiry when the countdown runs out', async () => {
    const agentId = newAgentId()
    const c = challenge(agentId)
    fakeServer()
      .on('POST', initiatePath(agentId), created(c))
      .on('GET', statusPath(c.challenge_id), ok(initiated(c)))
    await renderPage(agentId)
    await advance(15 * 60_000)
    expect(screen.getByRole('button', { name: 'Start a new shadow claim' })).toBeTruthy()
  })

  it('keeps the challenge across a reload of the page', async () => {
    const agentId = newAgentId()
    const c = challenge(agentId)
    const server = fakeServer().on('POST', initiatePath(agentId), created(c))
    const { unmount } = render(<MemoryRouter initialEntries={[`/malice/${agentId}`]}><Routes><Route path="/malice/:agentId" element={<ShadowClaim />} /></Routes></MemoryRouter>)
    await advance()
    unmount()
    await renderPage(agentId)
    expect(server.calls('POST', initiatePath(agentId))).toHaveLength(1)
    expect(screen.getByTestId('shadow-challenge-id').textContent).toBe(c.challenge_id)
  })

  it('refuses a link that does not end with an agent id, asking nothing', async () => {
    const server = fakeServer()
    await renderPage('not-an-agent')
    expect(screen.getByRole('alert').textContent).toMatch(/does not name an agent/)
    expect(server.requests).toEqual([])
  })
})
