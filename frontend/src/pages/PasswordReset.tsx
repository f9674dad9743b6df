// "Forgot password?" (issue 12): ask for a link, then set a new password from the link. The
// request page says the same thing whatever the address, as the API answers the same.
import { useState, type FormEvent } from 'react'
import { Link, useSearchParams } from 'react-router'
import { ApiError, mailApi } from '../api/client'
import { Notice } from '../components/Notice'
import { errorMessage } from '../lib/messages'
import { passwordProblem } from './AuthForms'

export function ForgotPassword () {
  const [email, setEmail] = useState('')
  const [sent, setSent] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setError(null)
    setBusy(true)
    try {
      await mailApi.requestReset(email)
      setSent(true)
    } catch (err) {
      setError(errorMessage(err))
    } finally {
      setBusy(false)
    }
  }

  if (sent) {
    return (
      <section className="narrow">
        <h1>Check your e-mail</h1>
        <Notice kind="success">
          If an account uses <strong>{email.trim()}</strong>, we sent it a link to choose a new password.
          The link works once, for 30 minutes.
        </Notice>
        <p><Link to="/login">Back to log in</Link></p>
      </section>
    )
  }
  return (
    <section className="narrow">
      <h1>Forgot your password?</h1>
      <p>Enter the e-mail address of your account and we will send you a link to choose a new password.</p>
      <form onSubmit={submit} noValidate>
        <label htmlFor="forgot-email">E-mail</label>
        <input
          id="forgot-email" type="email" autoComplete="username" required value={email}
          onChange={(e) => setEmail(e.target.value)} {...(error ? { 'aria-invalid': true, 'aria-describedby': 'forgot-error' } : {})}
        />
        {error && <div id="forgot-error" className="notice error" role="alert">{error}</div>}
        <button type="submit" disabled={busy || !email.trim()}>{busy ? 'Sending…' : 'Send reset link'}</button>
      </form>
      <p><Link to="/login">Back to log in</Link></p>
    </section>
  )
}

export function ResetPassword () {
  const [params] = useSearchParams()
  const token = params.get('token') ?? ''
  const [password, setPassword] = useState('')
  const [confirm, setConfirm] = useState('')
  const [done, setDone] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [badLink, setBadLink] = useState(!token)
  const [busy, setBusy] = useState(false)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const weak = passwordProblem(password)
    if (weak) { setError(weak); return }
    if (password !== confirm) { setError('The two passwords differ.'); return }
    setError(null)
    setBusy(true)
    try {
      await mailApi.completeReset(token, password)
      setDone(true)
    } catch (err) {
      if (err instanceof ApiError && err.code === 'token_invalid') setBadLink(true)
      else setError(errorMessage(err))
    } finally {
      setBusy(false)
    }
  }

  if (done) {
    return (
      <section className="narrow">
        <h1>Password changed</h1>
        <Notice kind="success">Your password was reset and every session was signed out.</Notice>
        <p><Link to="/login">Log in with the new password</Link></p>
      </section>
    )
  }
  if (badLink) {
    return (
      <section className="narrow">
        <h1>Reset your password</h1>
        <Notice kind="error">This link is invalid, already used or expired.</Notice>
        <p><Link to="/forgot-password">Ask for a new link</Link></p>
      </section>
    )
  }
  return (
    <section className="narrow">
      <h1>Choose a new password</h1>
      <form onSubmit={submit} noValidate>
        <label htmlFor="reset-password">New password</label>
        <input
          id="reset-password" type="password" autoComplete="new-password" required value={password}
          onChange={(e) => setPassword(e.target.value)} aria-describedby="reset-hint"
        />
        <p id="reset-hint" className="hint">8 to 72 bytes. Every session of your account will be signed out.</p>
        <label htmlFor="reset-confirm">Repeat the new password</label>
        <input
          id="reset-confirm" type="password" autoComplete="new-password" required value={confirm}
          onChange={(e) => setConfirm(e.target.value)}
        />
        {error && <div id="reset-error" className="notice error" role="alert">{error}</div>}
        <button type="submit" disabled={busy || !password || !confirm}>{busy ? 'Saving…' : 'Set new password'}</button>
      </form>
    </section>
  )
}
