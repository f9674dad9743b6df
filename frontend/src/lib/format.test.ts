import type { Subscription } from '../api/types'
import { formatDate, formatUse, hasRoom, subscriptionLine, usagePercent } from './format'

describe('formatUse', () => {
  it('shows used / limit, and -1 as unlimited', () => {
    expect(formatUse(1, 5)).toBe('1 / 5')
    expect(formatUse(3, -1)).toBe('3 / unlimited')
    expect(formatUse(0, 0)).toBe('0 / 0')
  })
})

describe('hasRoom', () => {
  it('allows one more only below the limit', () => {
    expect(hasRoom(0, 1)).toBe(true)
    expect(hasRoom(4, 5)).toBe(true)
    expect(hasRoom(5, 5)).toBe(false)
    expect(hasRoom(6, 5)).toBe(false) // over the limit after a downgrade
    expect(hasRoom(0, 0)).toBe(false)
  })

  it('always has room when unlimited', () => {
    expect(hasRoom(1_000_000, -1)).toBe(true)
  })
})

describe('usagePercent', () => {
  it('is the rounded share of the limit', () => {
    expect(usagePercent(0, 5)).toBe(0)
    expect(usagePercent(1, 3)).toBe(33)
    expect(usagePercent(2, 3)).toBe(67)
    expect(usagePercent(5, 5)).toBe(100)
  })

  it('is capped at 100 when over the limit', () => {
    expect(usagePercent(7, 5)).toBe(100)
  })

  it('is 0 for unlimited, and full for any use of a zero limit', () => {
    expect(usagePercent(42, -1)).toBe(0)
    expect(usagePercent(0, 0)).toBe(0)
    expect(usagePercent(1, 0)).toBe(100)
  })
})

describe('formatDate', () => {
  it('shows a dash for no date and the raw text for an unparsable one', () => {
    expect(formatDate(null)).toBe('—')
    expect(formatDate(undefined)).toBe('—')
    expect(formatDate('soon')).toBe('soon')
  })

  it('uses the UTC day, whatever the local time zone', () => {
    const text = formatDate('2026-03-15T23:30:00.000Z')
    expect(text).toMatch(/15/)
    expect(text).toMatch(/2026/)
    expect(text).not.toMatch(/16/)
  })
})

describe('subscriptionLine', () => {
  const free: Subscription = {
    id: null,
    tier: 'free',
    status: 'free',
    is_active: true,
    is_free_tier: true,
    max_agents: 1,
    max_clients: 1,
    max_oauth_per_period: 100,
    billing_period_start: null,
    billing_period_end: null,
    next_billed_at: null,
    grace_period_end: null,
    will_renew: false,
    scheduled_cancel_at: null,
  }
  // Distinct days so each line shows which date it picked.
  const paid: Subscription = {
    ...free,
    id: 'sub_01',
    tier: 'pro',
    status: 'active',
    is_free_tier: false,
    billing_period_start: '2026-02-01T00:00:00.000Z',
    billing_period_end: '2026-03-28T00:00:00.000Z',
    next_billed_at: '2026-03-15T00:00:00.000Z',
    will_renew: true,
  }

  it('free tier', () => {
    expect(subscriptionLine(free)).toBe('Free tier: no subscription.')
  })

  it('active and renewing: the next billing date', () => {
    const line = subscriptionLine(paid)
    expect(line).toMatch(/^Renews on .*15.*2026.*\.$|^Renews on .*2026.*15.*\.$/)
    expect(line).not.toMatch(/28/)
  })

  it('active, renewing, without a next billing date: the period end', () => {
    expect(subscriptionLine({ ...paid, next_billed_at: null })).toMatch(/^Renews on .*28/)
  })

  it('scheduled cancellation wins over renewal', () => {
    const line = subscriptionLine({ ...paid, will_renew: false, scheduled_cancel_at: '2026-03-20T00:00:00.000Z' })
    expect(line).toMatch(/^Cancels on .*20/)
  })

  it('active, not renewing and nothing scheduled: active until the period end', () => {
    expect(subscriptionLine({ ...paid, will_renew: false })).toMatch(/^Active until .*28/)
  })

  it('past due: the grace period end, else the period end', () => {
    const pastDue: Subscription = { ...paid, status: 'past_due', grace_period_end: '2026-04-07T00:00:00.000Z' }
    expect(subscriptionLine(pastDue)).toMatch(/^Past due: update your payment method by .*7.*\.$/)
    expect(subscriptionLine(pastDue)).not.toMatch(/28/)
    expect(subscriptionLine({ ...pastDue, grace_period_end: null })).toMatch(/by .*28/)
  })

  it('paused and canceled', () => {
    expect(subscriptionLine({ ...paid, status: 'paused' })).toBe('Paused: the free limits apply until it resumes.')
    expect(subscriptionLine({ ...paid, status: 'canceled' })).toBe('Canceled.')
  })
})
