import { fireEvent, render, screen, waitFor } from '@testing-library/react'
import { MemoryRouter } from 'react-router'
import type { Subscription } from '../api/types'
import { apiError, fakeServer, ok } from '../test/fakeServer'
import { PaymentBanner } from './PaymentBanner'

const SUB = '/v1/subscriptions/me'
const PORTAL = '/v1/subscriptions/portal'
const PORTAL_URL = 'https://customer-portal.paddle.com/cpl_01?action=overview&token=t'

const subscription = (extra: Partial<Subscription> = {}): Subscription => ({
  id: 'sub_1', tier: 'PRO', status: 'past_due', is_active: true, is_free_tier: false, max_agents: 5,
  max_clients: 5, max_oauth_per_period: 1000, billing_period_start: null, billing_period_end: null,
  next_billed_at: null, grace_period_end: null, will_renew: true, scheduled_cancel_at: null, ...extra,
})
const failing = subscription({ payment_problem: { kind: 'past_due', since: '2026-05-01T12:00:00.000Z' } })

function setup () {
  const go = vi.fn()
  render(<MemoryRouter><PaymentBanner go={go} /></MemoryRouter>)
  return go
}

describe('PaymentBanner', () => {
  it('shows nothing while payments are fine', async () => {
    const server = fakeServer().on('GET', SUB, ok({ subscription: subscription({ status: 'active' }) }))
    setup()
    await waitFor(() => expect(server.calls('GET', SUB)).toHaveLength(1))
    expect(screen.queryByTestId('payment-banner')).toBeNull()
  })

  it('says what is wrong and opens the billing portal the server created', async () => {
    const server = fakeServer()
      .on('GET', SUB, ok({ subscription: failing }))
      .on('POST', PORTAL, ok({ url: PORTAL_URL, subscriptions: [] }))
    const go = setup()
    const banner = await screen.findByRole('region', { name: 'Payment problem' })
    expect(banner.textContent).toContain('Your subscription is past due (since May 1, 2026)')
    fireEvent.click(screen.getByRole('button', { name: 'Update payment method' }))
    await waitFor(() => expect(go).toHaveBeenCalledWith(PORTAL_URL))
    expect(server.calls('POST', PORTAL)).toHaveLength(1)
  })

  it('reports a portal failure and goes nowhere', async () => {
    fakeServer()
      .on('GET', SUB, ok({ subscription: failing }))
      .on('POST', PORTAL, apiError(502, 'paddle_error'))
    const go = setup()
    fireEvent.click(await screen.findByRole('button', { name: 'Update payment method' }))
    expect((await screen.findByRole('alert')).textContent).toBe('server says paddle_error')
    expect(go).not.toHaveBeenCalled()
  })

  it('never navigates to a link that is not a web address', async () => {
    fakeServer()
      .on('GET', SUB, ok({ subscription: failing }))
      .on('POST', PORTAL, ok({ url: 'javascript:alert(1)', subscriptions: [] }))
    const go = setup()
    fireEvent.click(await screen.findByRole('button', { name: 'Update payment method' }))
    expect((await screen.findByRole('alert')).textContent).toBe('The billing portal link is not a web address.')
    expect(go).not.toHaveBeenCalled()
  })
})
