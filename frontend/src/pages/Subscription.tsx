import { useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { api } from '../api/client'
import type { BillingConfig } from '../api/types'
import { ConfirmButton } from '../components/ConfirmButton'
import { ErrorNotice, Loading, Notice } from '../components/Notice'
import { UsageBar } from '../components/UsageBar'
import { formatDate, formatPrice, subscriptionLine } from '../lib/format'
import { openCheckout } from '../lib/paddle'
import { openBillingPortal, type Go } from '../lib/portal'
import { useAction, useLoad } from '../lib/useAsync'
import { usePolling } from '../lib/usePolling'

const limitText = (n: number, what: string) => (n < 0 ? `Unlimited ${what}` : `${n} ${what}`)

/** `go` replaces the browser navigation to the billing portal (tests only). */
export function Subscription ({ go }: { go?: Go } = {}) {
  const navigate = useNavigate()
  const [chosen, setChosen] = useState<string | null>(null)
  const [cancelled, setCancelled] = useState<string | null>(null)

  const load = useLoad(async () => {
    const [s, u, t] = await Promise.all([api.subscription(), api.usage(), api.tiers()])
    const billing: BillingConfig = t.billing ?? { configured: false, paddle_environment: 'sandbox', paddle_client_token: null }
    return { sub: s.subscription, usage: u.usage, tiers: t.tiers, billing }
  }, [])

  const upgrade = useAction(async (tier: string) => {
    setChosen(tier)
    const c = await api.upgrade(tier)
    let completed = false
    await openCheckout({
      environment: c.paddle_environment,
      token: c.paddle_client_token,
      priceId: c.price_id,
      customData: c.custom_data,
      customer: c.customer_id ? { id: c.customer_id } : c.customer_email ? { email: c.customer_email } : undefined,
      successUrl: `${window.location.origin}/billing/success`,
      onEvent: (name) => {
        if (name === 'checkout.completed') { completed = true; navigate('/billing/success') }
        if (name === 'checkout.closed' && !completed) navigate('/billing/cancelled')
      },
    })
  })

  const cancel = useAction(async () => {
    const r = await api.cancel()
    setCancelled(r.scheduled_cancel_at ?? r.billing_period_end)
    await load.reload()
  })

  const manage = useAction(async () => { await openBillingPortal(go) })

  // One notice for the page, as before: an action's failure, else the load's.
  const error = upgrade.error ?? cancel.error ?? manage.error ?? load.error
  const busyTier = upgrade.busy ? chosen : null

  if (!load.data) {
    return <><h1>Subscription</h1><ErrorNotice error={error} />{!error && <Loading what="your subscription" />}</>
  }
  const { sub, usage, tiers, billing } = load.data
  const cancellable = ['active', 'trialing', 'past_due'].includes(sub.status) && !sub.scheduled_cancel_at
  return (
    <>
      <h1>Subscription</h1>
      <ErrorNotice error={error} />
      <section className="card" aria-labelledby="current-title">
        <h2 id="current-title">Current tier: <span data-testid="current-tier">{sub.tier}</span></h2>
        <p data-testid="subscription-line">{subscriptionLine(sub)}</p>
        {sub.status === 'past_due' && <Notice kind="error">Your last payment failed. Paddle retries it; your limits stay in force until {formatDate(sub.grace_period_end)}.</Notice>}
        <UsageBar label="Agents" used={usage.agents_claimed} limit={usage.max_agents} />
        <UsageBar label="Clients" used={usage.clients_registered} limit={usage.max_clients} />
        <UsageBar label="Protected resources" used={usage.resources_registered} limit={usage.max_resources} />
        <UsageBar label="OAuth grants this month" used={usage.oauth_count} limit={usage.max_oauth_per_period} />
        {cancelled && <Notice kind="success">Your subscription will end on {formatDate(cancelled)}.</Notice>}
        {sub.id !== null && billing.configured && (
          <p className="actions">
            <button type="button" id="manage-billing" className="secondary" disabled={manage.busy} onClick={() => { void manage.run() }}>
              {manage.busy ? 'Opening the billing portal…' : 'Manage billing'}
            </button>
          </p>
        )}
        {cancellable && !cancelled && (
          <p className="actions">
            <ConfirmButton
              label="Cancel subscription" confirmLabel="Yes, cancel at period end"
              question={`Cancel at the end of the period (${formatDate(sub.billing_period_end)})?`}
              onConfirm={cancel.run}
            />
          </p>
        )}
      </section>
      <section aria-labelledby="plans-title">
        <h2 id="plans-title">Tiers</h2>
        {!billing.configured && <Notice>Billing is not configured on this server, so tiers cannot be bought here.</Notice>}
        <ul className="cards tiers">
          {tiers.map((t) => {
            const current = t.tier === sub.tier && sub.is_active && !sub.scheduled_cancel_at
            const headingId = `tier-${t.tier}`
            return (
              <li key={t.tier} className={`card tier${current ? ' current' : ''}`} aria-labelledby={headingId}>
                <h3 id={headingId}>{t.tier}</h3>
                <p className="price">{t.price === 0 ? 'Free' : `${formatPrice(t.price, t.currency)} / month`}</p>
                <ul className="plain">
                  <li>{limitText(t.max_agents, t.max_agents === 1 ? 'agent' : 'agents')}</li>
                  <li>{limitText(t.max_clients, t.max_clients === 1 ? 'OAuth client' : 'OAuth clients')}</li>
                  <li>{limitText(t.max_oauth_per_period, 'OAuth grants a month')}</li>
                  <li>{limitText(t.max_resources, t.max_resources === 1 ? 'protected resource' : 'protected resources')}</li>
                </ul>
                {t.tier === 'FREE'
                  ? null
                  : current
                    ? <p className="badge">Your tier</p>
                    : (
                      <button type="button" disabled={!billing.configured || busyTier !== null} onClick={() => { void upgrade.run(t.tier) }}>
                        {busyTier === t.tier ? 'Opening checkout…' : `Upgrade to ${t.tier}`}
                      </button>
                      )}
              </li>
            )
          })}
        </ul>
      </section>
    </>
  )
}

export function BillingSuccess () {
  const poll = usePolling(() => api.subscription(), (r) => r.subscription.is_active && !r.subscription.is_free_tier, true)
  const sub = poll.data?.subscription
  const done = !!sub && sub.is_active && !sub.is_free_tier
  return (
    <section className="narrow">
      <h1>Thank you</h1>
      {done
        ? <Notice kind="success">Your subscription is active: <strong data-testid="success-tier">{sub.tier}</strong>. {subscriptionLine(sub)}</Notice>
        : <p role="status">Payment received. Waiting for Paddle to confirm your subscription…</p>}
      <ErrorNotice error={poll.error} />
      {!done && <button type="button" className="secondary" onClick={poll.checkNow}>Check now</button>}
      <p><Link to="/dashboard">Go to the dashboard</Link> · <Link to="/subscription">Subscription</Link></p>
    </section>
  )
}

export function BillingCancelled () {
  return (
    <section className="narrow">
      <h1>Checkout cancelled</h1>
      <p>Nothing was charged. Your tier is unchanged.</p>
      <p><Link className="button" to="/subscription">Back to tiers</Link></p>
    </section>
  )
}
