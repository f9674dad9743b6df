import { useState, type FormEvent } from 'react'
import { api } from '../api/client'
import type { ClaimChallenge, ClaimStatus } from '../api/types'
import { CopyButton } from '../components/CopyButton'
import { ErrorNotice, Notice } from '../components/Notice'
import { useAction } from '../lib/useAsync'
import { formatCountdown, useCountdown } from '../lib/useCountdown'
import { usePolling } from '../lib/usePolling'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Claim an agent by id: create the challenge, tell the agent what to do, wait for its consent. */
export function ClaimAgent ({ canClaim, onClaimed }: { canClaim: boolean, onClaimed: () => void }) {
  const [agentId, setAgentId] = useState('')
  const [challenge, setChallenge] = useState<ClaimChallenge | null>(null)
  const [formError, setFormError] = useState<string | null>(null)
  const start = useAction(async (id: string) => { setChallenge(await api.claimInitiate(id)) })

  const submit = (e: FormEvent) => {
    e.preventDefault()
    const id = agentId.trim()
    if (!UUID.test(id)) { setFormError('An agent id looks like 6f1c2b9e-0000-4000-8000-000000000000.'); return }
    setFormError(null)
    void start.run(id)
  }

  return (
    <section className="card" aria-labelledby="claim-title">
      <h2 id="claim-title">Claim an agent</h2>
      {!canClaim && <Notice>Your tier has no room for another agent. Upgrade on the Subscription page to claim one.</Notice>}
      {challenge
        ? <ClaimProgress challenge={challenge} onDone={(s) => { if (s === 'completed') onClaimed() }} onReset={() => { setChallenge(null); setAgentId('') }} />
        : (
          <form onSubmit={submit} noValidate className="inline-form">
            <label htmlFor="claim-agent-id">Agent id</label>
            <input
              id="claim-agent-id" value={agentId} onChange={(e) => setAgentId(e.target.value)}
              placeholder="6f1c2b9e-…" spellCheck={false} autoComplete="off"
              aria-invalid={formError ? true : undefined} aria-describedby={formError ? 'claim-form-error' : undefined}
            />
            <button type="submit" disabled={start.busy || !agentId.trim() || !canClaim}>{start.busy ? 'Starting…' : 'Start claim'}</button>
            {formError && <div id="claim-form-error" className="notice error" role="alert">{formError}</div>}
            <ErrorNotice error={start.error} />
          </form>
          )}
    </section>
  )
}

function ClaimProgress ({ challenge, onDone, onReset }: { challenge: ClaimChallenge, onDone: (s: ClaimStatus) => void, onReset: () => void }) {
  const [finished, setFinished] = useState<ClaimStatus | null>(null)
  const poll = usePolling(
    () => api.claimStatus(challenge.challenge_id),
    (r) => {
      if (r.status === 'pending') return false
      setFinished(r.status)
      onDone(r.status)
      return true
    },
    finished === null,
  )
  const left = useCountdown(challenge.expires_at)
  const status: ClaimStatus = finished ?? poll.data?.status ?? 'pending'
  const body = JSON.stringify({ overseer_id: challenge.overseer_id })
  const instruction = `POST ${challenge.complete_url} with JSON body ${body}, authenticated as the agent (its session token or a DPoP proof).`

  if (status === 'completed') {
    return (
      <>
        <Notice kind="success">Claim accepted: you now oversee agent <code>{challenge.agent_id}</code>.</Notice>
        <button type="button" className="secondary" onClick={onReset}>Claim another agent</button>
      </>
    )
  }
  if (status === 'expired' || left === 0) {
    return (
      <>
        <Notice kind="error">The claim expired before the agent confirmed it.</Notice>
        <button type="button" className="secondary" onClick={onReset}>Start again</button>
      </>
    )
  }
  return (
    <div className="challenge">
      <p>Give your agent this instruction. The claim waits for its confirmation.</p>
      <dl className="facts">
        <dt>Challenge id</dt>
        <dd><code data-testid="claim-challenge-id">{challenge.challenge_id}</code> <CopyButton text={challenge.challenge_id} /></dd>
        <dt>Your overseer id</dt>
        <dd><code data-testid="claim-overseer-id">{challenge.overseer_id}</code> <CopyButton text={challenge.overseer_id} /></dd>
        <dt>Time left</dt>
        <dd><span aria-live="off">{formatCountdown(left)}</span></dd>
      </dl>
      <p className="instruction"><code data-testid="claim-instruction">{instruction}</code></p>
      <p><CopyButton text={instruction} label="Copy instruction" /></p>
      <p role="status" className="muted">
        {poll.checking ? 'Checking…' : 'Waiting for the agent to confirm.'}
      </p>
      <ErrorNotice error={poll.error} />
      <p className="actions">
        <button type="button" className="secondary" onClick={poll.checkNow} disabled={poll.checking}>Check now</button>
        <button type="button" className="link" onClick={onReset}>Cancel</button>
      </p>
    </div>
  )
}
