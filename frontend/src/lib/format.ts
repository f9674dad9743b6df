import type { Limit, Subscription } from '../api/types'

/** "1 / 5", "3 / unlimited". */
export function formatUse (used: number, limit: Limit): string {
  return `${used} / ${limit < 0 ? 'unlimited' : limit}`
}

/** Whether one more item fits under `limit` (-1 = unlimited). */
export function hasRoom (used: number, limit: Limit): boolean {
  return limit < 0 || used < limit
}

/** Fill of a usage bar in percent: 0 for unlimited, capped at 100. */
export function usagePercent (used: number, limit: Limit): number {
  if (limit < 0) return 0
  if (limit === 0) return used > 0 ? 100 : 0
  return Math.min(100, Math.round((used / limit) * 100))
}

export function formatDate (iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' })
}

export function formatDateTime (iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC'
}

export function formatPrice (price: number, currency: string): string {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(price)
  } catch {
    return `${price} ${currency}`
  }
}

/** One line describing where a subscription stands (renews / cancels on / past due / paused). */
export function subscriptionLine (s: Subscription): string {
  switch (s.status) {
    case 'free':
      return 'Free tier: no subscription.'
    case 'paused':
      return 'Paused: the free limits apply until it resumes.'
    case 'canceled':
      return 'Canceled.'
    case 'past_due':
      return `Past due: update your payment method by ${formatDate(s.grace_period_end ?? s.billing_period_end)}.`
    default:
      if (s.scheduled_cancel_at) return `Cancels on ${formatDate(s.scheduled_cancel_at)}.`
      if (s.will_renew) return `Renews on ${formatDate(s.next_billed_at ?? s.billing_period_end)}.`
      return `Active until ${formatDate(s.billing_period_end)}.`
  }
}
