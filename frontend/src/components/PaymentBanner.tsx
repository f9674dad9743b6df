import { useEffect, useState } from 'react'
import { useLocation } from 'react-router'
import { api } from '../api/client'
import type { PaymentProblem } from '../api/types'
import { formatDate } from '../lib/format'
import { errorMessage } from '../lib/messages'
import { openBillingPortal, type Go } from '../lib/portal'

const TEXT: Record<PaymentProblem['kind'], string> = {
  payment_failed: 'A payment for your subscription failed',
  past_due: 'Your subscription is past due',
}

/**
 * Shown across signed-in pages while the subscription has a payment problem (issue 12), with the
 * way to fix it: the Paddle billing portal. Checked again on each page change; a failed check
 * shows nothing (the page's own requests report errors).
 */
export function PaymentBanner ({ go }: { go?: Go }) {
  const { pathname } = useLocation()
  const [problem, setProblem] = useState<PaymentProblem | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)

  useEffect(() => {
    let live = true
    api.subscription().then(
      ({ subscription }) => { if (live) setProblem(subscription.payment_problem ?? null) },
      () => {},
    )
    return () => { live = false }
  }, [pathname])

  if (!problem) return null
  const open = async () => {
    setBusy(true)
    setError(null)
    try { await openBillingPortal(go) } catch (e) { setError(e) } finally { setBusy(false) }
  }
  return (
    <section className="notice error banner" aria-label="Payment problem" data-testid="payment-banner">
      <p>
        {TEXT[problem.kind]} (since {formatDate(problem.since)}). Paddle retries the payment; your tier stays
        in force until then. Update your payment method in the billing portal.
      </p>
      <button type="button" onClick={() => { void open() }} disabled={busy}>
        {busy ? 'Opening the billing portal…' : 'Update payment method'}
      </button>
      {error ? <p role="alert">{errorMessage(error)}</p> : null}
    </section>
  )
}
