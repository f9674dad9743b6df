// Fake timers drive the polling, so the DOM is driven with fireEvent (user-event waits on timers).
import { fireEvent, render, screen } from '@testing-library/react'
import type { ClaimChallenge } from '../api/types'
import { advance, apiError, created, fakeServer, ok, sequence } from '../test/fakeServer'
import { ClaimAgent } from './ClaimAgent'

const NOW = Date.parse('2026-05-01T12:00:00.000Z')
const AGENT = '6f1c2b9e-1111-4000-8000-000000000001'
const INITIATE = '/v1/agents/claim/initiate'

const challenge: ClaimChallenge = {
  challenge_id: '9d1e0c55-0000-4000-8000-0000000000c1',
  complete_url: 'https://id.example/v1/agents/claim/complete/9d1e0c55-0000-4000-8000-0000000000c1',
  overseer_id: '0b7f3c1e-0000-4000-8000-0000000000ad',
  agent_id: AGENT,
  expires_at: new Date(NOW + 10 * 60_000).toISOString(),
  expires_in: 600,
}
const STATUS = `/v1/agents/claim/status/${challenge.challenge_id}`
const status = (s: 'pending' | 'completed' | 'expired') =>
  ok({ challenge_id: challenge.challenge_id, agent_id: AGENT, status: s, expires_at: challenge.expires_at })

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(NOW)
})
afterEach(() => { vi.useRealTimers() })

function setup (canClaim = true) {
  const onClaimed = vi.fn()
  render(<ClaimAgent canClaim={canClaim} onClaimed={onClaimed} />)
  const startClaim = async (id: string) => {
    fireEvent.change(screen.getByLabelText('Agent id'), { target: { value: id } })
    fireEvent.click(screen.getByRole('button', { name: 'Start claim' }))
    await advance()
  }
  const click = async (name: string) => {
    fireEvent.click(screen.getByRole('button', { name }))
    await advance()
  }
  return { onClaimed, startClaim, click }
}

describe('ClaimAgent', () => {
  it('rejects an id that is not a UUID without asking the server', async () => {
    const server = fakeServer()
    const { startClaim } = setup()
    await startClaim('agent-42')
    expect(screen.getByRole('alert').textContent).toBe('An agent id looks like 6f1c2b9e-0000-4000-8000-000000000000.')
    expect(screen.getByLabelText('Agent id').getAttribute('aria-invalid')).toBe('true')
    expect(server.requests).toEqual([])
  })

  it('starts the claim, shows what the agent must do, and reports the accepted claim', async () => {
    const server = fakeServer()
      .on('POST', INITIATE, created(challenge))
      .on('GET', STATUS, sequence(status('pending'), status('completed')))
    const { startClaim, onClaimed } = setup()

    await startClaim(`  ${AGENT} `)
    expect(server.calls('POST', INITIATE).map((r) => r.body)).toEqual([{ agent_id: AGENT }])
    expect(screen.getByTestId('claim-challenge-id').textContent).toBe(challenge.challenge_id)
    expect(screen.getByTestId('claim-overseer-id').textContent).toBe(challenge.overseer_id)
    expect(screen.getByTestId('claim-instruction').textContent).toBe(
      `POST ${challenge.complete_url} with JSON body {"overseer_id":"${challenge.overseer_id}"}, authenticated as the agent (its session token or a DPoP proof).`,
    )
    expect(screen.getByText('10:00')).toBeTruthy()

    await advance(2000) // first poll: still pending
    expect(server.calls('GET', STATUS)).toHaveLength(1)
    expect(screen.getByText('Waiting for the agent to confirm.')).toBeTruthy()
    expect(screen.getByText('9:58')).toBeTruthy()
    expect(onClaimed).not.toHaveBeenCalled()

    await advance(3000) // second poll: the agent confirmed
    expect(server.calls('GET', STATUS)).toHaveLength(2)
    expect(onClaimed).toHaveBeenCalledTimes(1)
    expect(screen.getByRole('status').textContent).toBe(`Claim accepted: you now oversee agent ${AGENT}.`)

    await advance(10 * 60_000) // no polling once done
    expect(server.calls('GET', STATUS)).toHaveLength(2)
    expect(onClaimed).toHaveBeenCalledTimes(1)
    expect(server.unhandled).toEqual([])
  })

  it('"Check now" asks at once', async () => {
    const server = fakeServer()
      .on('POST', INITIATE, created(challenge))
      .on('GET', STATUS, status('completed'))
    const { startClaim, click, onClaimed } = setup()
    await startClaim(AGENT)
    await click('Check now')
    expect(server.calls('GET', STATUS)).toHaveLength(1)
    expect(onClaimed).toHaveBeenCalledTimes(1)
  })

  it('shows an expired claim without calling onClaimed, and can start again', async () => {
    fakeServer()
      .on('POST', INITIATE, created(challenge))
      .on('GET', STATUS, status('expired'))
    const { startClaim, click, onClaimed } = setup()
    await startClaim(AGENT)
    await advance(2000)
    expect(screen.getByRole('alert').textContent).toBe('The claim expired before the agent confirmed it.')
    expect(onClaimed).not.toHaveBeenCalled()
    await click('Start again')
    expect((screen.getByLabelText('Agent id') as HTMLInputElement).value).toBe('')
  })

  it('shows the expiry when the countdown runs out while pending', async () => {
    fakeServer()
      .on('POST', INITIATE, created(challenge))
      .on('GET', STATUS, status('pending'))
    const { startClaim } = setup()
    await startClaim(AGENT)
    await advance(10 * 60_000)
    expect(screen.getByRole('alert').textContent).toBe('The claim expired before the agent confirmed it.')
  })

  it('shows the server refusing the claim', async () => {
    fakeServer().on('POST', INITIATE, apiError(409, 'already_claimed'))
    const { startClaim } = setup()
    await startClaim(AGENT)
    expect(screen.getByRole('alert').textContent).toBe('This agent already has an overseer.')
    expect(screen.getByLabelText('Agent id')).toBeTruthy() // the form stays for another try
  })

  it('cannot start a claim without room in the tier', () => {
    fakeServer()
    setup(false)
    expect(screen.getByText('Your tier has no room for another agent. Upgrade on the Subscription page to claim one.')).toBeTruthy()
    expect((screen.getByRole('button', { name: 'Start claim' }) as HTMLButtonElement).disabled).toBe(true)
  })
})
