// E-mail verification (issue 12): the page the e-mailed link opens, and the dashboard's
// "verified / not verified (resend)" line.
import { useEffect, useRef, useState } from 'react'
import { Link, useSearchParams } from 'react-router'
import { mailApi } from '../api/client'
import { ErrorNotice, Loading, Notice } from '../components/Notice'
import { errorMessage } from '../lib/messages'
import { useAction, useLoad } from '../lib/useAsync'

type Outcome = { status: 'checking' } | { status: 'verified' } | { status: 'failed', message: string }

export function VerifyEmail () {
  const [params] = useSearchParams()
  const token = params.get('token') ?? ''
  const [outcome, setOutcome] = useState<Outcome>({ status: 'checking' })
  // The token is single use: send it once, even when React runs effects twice in development.
  const sent = useRef(false)

  useEffect(() => {
    if (sent.current) return
    sent.current = true
    if (!token) { setOutcome({ status: 'failed', message: 'This link has no token.' }); return }
    mailApi.verify(token).then(
      () => setOutcome({ status: 'verified' }),
      (err) => setOutcome({ status: 'failed', message: errorMessage(err) }),
    )
  }, [token])

  return (
    <section className="narrow">
      <h1>Verify your e-mail address</h1>
      {outcome.status === 'checking' && <p role="status">Checking your link…</p>}
      {outcome.status === 'verified' && <Notice kind="success">Your e-mail address is verified. Thank you!</Notice>}
      {outcome.status === 'failed' && (
        <>
          <Notice kind="error">{outcome.message}</Notice>
          <p>Log in and send a new link from your dashboard.</p>
        </>
      )}
      <p><Link to="/dashboard">Go to the dashboard</Link></p>
    </section>
  )
}

/** "Verified" or "not verified" with a button that sends a new link. */
export function EmailVerificationStatus () {
  const load = useLoad(() => mailApi.verification(), [])
  const [sentTo, setSentTo] = useState<string | null>(null)
  const resend = useAction(async (email: string) => { await mailApi.resendVerification(); setSentTo(email) })
  const overseer = load.data?.overseer
  if (!overseer) return load.error ? <ErrorNotice error={load.error} /> : <Loading what="e-mail status" />
  if (overseer.email_verified) {
    return <p className="muted" data-testid="email-status">E-mail <strong>{overseer.email}</strong> verified.</p>
  }
  return (
    <section className="notice info" aria-labelledby="email-status-title" data-testid="email-status">
      <h2 id="email-status-title">Your e-mail address is not verified</h2>
      <p>We sent a link to <strong>{overseer.email}</strong>. Open it to verify your address.</p>
      {sentTo && <Notice kind="success">A new link is on its way to {sentTo}.</Notice>}
      {resend.error ? <ErrorNotice error={resend.error} /> : null}
      <button type="button" className="secondary" disabled={resend.busy} onClick={() => { void resend.run(overseer.email) }}>
        {resend.busy ? 'Sending…' : 'Send a new link'}
      </button>
    </section>
  )
}
