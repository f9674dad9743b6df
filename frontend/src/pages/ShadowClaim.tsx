import { useEffect, useState } from 'react'
import { Link, useParams } from 'react-router'
import type { ShadowChallenge, ShadowStatus } from '../api/types'
import { api, ApiError } from '../api/client'
import { CopyButton } from '../components/CopyButton'
import { ErrorNotice, Loading, Notice } from '../components/Notice'
import { formatDate, formatPrice } from '../lib/format'
import { errorMessage } from '../lib/messages'
import { openCheckout } from '../lib/paddle'
import { forgetShadowClaim, startShadowClaim } from '../lib/shadowSession'
import { formatCountdown, useCountdown } from '../lib/useCountdown'
import { usePolling } from '../lib/usePolling'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const terminal = (s: ShadowStatus) => s.status === 'completed' || s.status === 'expired'

/** Anonymous sponsor page: `/malice/:agentId` (api.md 2.5, 5.5). */
export function ShadowClaim () {
  const { agentId = '' } = useParams()
  const [challenge, setChallenge] = useState<ShadowChallenge | null>(null)
  const [startError, setStartError] = useState<unknown>(null)
  const [attempt, setAttempt] = useState(0)
  const valid = UUID.test(agentId)

  useEffect(() => {
    if (!valid) return
    let live = true
    startShadowClaim(agentId).then(
      (c) => { if (live) setChallenge(c) },
      (e) => { if (live) setStartError(e) },
    )
    return () => { live = false }
  }, [agentId, valid, attempt])

  const restart = () => {
    forgetShadowClaim(agentId)
    setChallenge(null)
    setStartError(null)
    setAttempt((n) => n + 1)
  }

  return (
    <section className="narrow">
      <h1>Sponsor an agent</h1>
      <p>
        A shadow claim gives one agent a paid tier for a fixed time, paid once by you. The agent must
        confirm before you pay; you do not get any control over it.
      </p>
      {!valid
        ? <Notice kind="error">This link does not name an agent: the address should end with the agent’s id.</Notice>
        : startError
          ? <StartFailed error={startError} onRetry={restart} />
          : challenge
            ? <ShadowProgress key={challenge.challenge_id} challenge={challenge} onRestart={restart} />
            : <Loading what="the shadow claim" />}
    </section>
  )
}

function StartFailed ({ error, onRetry }: { error: unknown, onRetry: () => void }) {
  const code = error instanceof ApiError ? error.code : null
  const text = code === 'agent_not_found'
    ? 'No agent with this id exists.'
    : code === 'already_claimed'
      ? 'This agent already has a human overseer, so it cannot be sponsored.'
      : errorMessage(error)
  return (
    <>
      <Notice kind="error">{text}</Notice>
      {code !== 'agent_not_found' && code !== 'already_claimed' && <button type="button" className="secondary" onClick={onRetry}>Try again</button>}
    </>
  )
}

function ShadowProgress ({ challenge, onRestart }: { challenge: ShadowChallenge, onRestart: () => void }) {
  const poll = usePolling(() => api.maliceStatus(challenge.challenge_id), terminal, true)
  const [payError, setPayError] = useState<unknown>(null)
  const [paying, setPaying] = useState(false)
  const [paid, setPaid] = useState(false)
  const status = poll.data
  const deadline = status?.expires_at ?? challenge.expires_at
  const left = useCountdown(deadline)
  const body = JSON.stringify({ overseer_id: challenge.shadow_overseer_id })
  const instruction = `POST ${challenge.complete_url} with JSON body ${body}, authenticated as the agent (its session token or a DPoP proof).`

  const pay = async (s: ShadowStatus) => {
    if (!s.custom_data || !s.paddle_price_id || !s.paddle_client_token) return
    setPayError(null)
    setPaying(true)
    try {
      await openCheckout({
        environment: s.paddle_environment ?? 'sandbox',
        token: s.paddle_client_token,
        priceId: s.paddle_price_id,
        customData: s.custom_data,
        onEvent: (name) => { if (name === 'checkout.completed') { setPaid(true); poll.checkNow() } },
      })
    } catch (e) {
      setPayError(e)
    } finally {
      setPaying(false)
    }
  }

  if (status?.status === 'completed') {
    return (
      <Notice kind="success">
        <strong>Done.</strong> {status.agent_name ?? 'The agent'} now has the paid tier
        {status.capabilities ? ` for ${status.capabilities.validity_days} days` : ''}. Thank you for sponsoring it.
      </Notice>
    )
  }
  if (status?.status === 'expired' || (left === 0 && !paid)) {
    return (
      <>
        <Notice kind="error">This shadow claim expired before it was completed.</Notice>
        <button type="button" onClick={onRestart}>Start a new shadow claim</button>
      </>
    )
  }

  const awaiting = status?.status === 'awaiting-payment'
  return (
    <div className="steps">
      <ol className="stepper" aria-label="Progress">
        <li aria-current={!awaiting ? 'step' : undefined} className={awaiting ? 'done' : 'now'}>Agent confirms</li>
        <li aria-current={awaiting ? 'step' : undefined} className={awaiting ? 'now' : ''}>Payment</li>
        <li>Done</li>
      </ol>
      {status?.agent_name && <p>Agent: <strong>{status.agent_name}</strong> <code className="muted">{challenge.agent_id}</code></p>}
      <p>Time left: <span data-testid="countdown">{formatCountdown(left)}</span> (until {formatDate(deadline)})</p>

      {!awaiting
        ? (
          <section aria-labelledby="step-confirm">
            <h2 id="step-confirm">1. Ask the agent to confirm</h2>
            <p>Send the agent this instruction:</p>
            <p className="instruction"><code data-testid="shadow-instruction">{instruction}</code></p>
            <p className="actions">
              <CopyButton text={instruction} label="Copy instruction" />
              <CopyButton text={challenge.challenge_id} label="Copy challenge id" />
              <CopyButton text={challenge.shadow_overseer_id} label="Copy shadow overseer id" />
            </p>
            <dl className="facts">
              <dt>Challenge id</dt><dd><code data-testid="shadow-challenge-id">{challenge.challenge_id}</code></dd>
              <dt>Shadow overseer id</dt><dd><code data-testid="shadow-overseer-id">{challenge.shadow_overseer_id}</code></dd>
            </dl>
          </section>
          )
        : (
          <section aria-labelledby="step-pay">
            <h2 id="step-pay">2. Pay</h2>
            <p>
              The agent confirmed. One payment of <strong data-testid="shadow-price">{formatPrice(status.price ?? 0, status.currency ?? 'USD')}</strong> gives
              it the paid tier for {status.capabilities?.validity_days ?? 30} days
              {status.capabilities ? ` (${status.capabilities.max_clients < 0 ? 'unlimited' : status.capabilities.max_clients} OAuth clients, ${status.capabilities.max_oauth_per_period < 0 ? 'unlimited' : status.capabilities.max_oauth_per_period} OAuth grants a month)` : ''}.
            </p>
            {paid
              ? <p role="status">Payment sent. Waiting for Paddle to confirm it…</p>
              : <button type="button" disabled={paying} onClick={() => { void pay(status) }}>{paying ? 'Opening checkout…' : 'Pay with Paddle'}</button>}
            <ErrorNotice error={payError} />
          </section>
          )}

      <p role="status" className="muted">{poll.checking ? 'Checking…' : awaiting ? 'Waiting for the payment.' : 'Waiting for the agent to confirm.'}</p>
      <ErrorNotice error={poll.error} />
      <p><button type="button" className="secondary" onClick={poll.checkNow} disabled={poll.checking}>Check now</button></p>
    </div>
  )
}

export function NotFound () {
  return (
    <section className="narrow">
      <h1>Page not found</h1>
      <p>There is nothing at this address. <Link to="/">Go to the start page</Link>.</p>
    </section>
  )
}
