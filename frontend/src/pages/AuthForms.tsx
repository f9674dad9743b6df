import { useState, type FormEvent } from 'react'
import { Link, Navigate, useLocation, useNavigate } from 'react-router'
import { ApiError } from '../api/client'
import { useAuth } from '../auth/AuthContext'
import { Notice } from '../components/Notice'
import { errorMessage } from '../lib/messages'

const utf8Length = (s: string) => new TextEncoder().encode(s).length

/** Client-side hints only; the server's answer is what counts (8..72 bytes, api.md 2.6). */
export function passwordProblem (password: string): string | null {
  const n = utf8Length(password)
  if (n < 8) return 'Use at least 8 characters.'
  if (n > 72) return 'Use at most 72 bytes (about 72 plain characters).'
  return null
}

interface LocationState { from?: string, expired?: boolean }

export function LogIn () {
  const { state, login } = useAuth()
  const navigate = useNavigate()
  const location = useLocation()
  const from = (location.state as LocationState | null)?.from ?? '/dashboard'
  const info = location.state as LocationState | null
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  if (state.status === 'signed-in' && !busy) return <Navigate to={from} replace />

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setError(null)
    setBusy(true)
    try {
      await login(email, password)
      navigate(from, { replace: true })
    } catch (err) {
      setError(errorMessage(err))
      setBusy(false)
    }
  }

  return (
    <section className="narrow">
      <h1>Log in</h1>
      {info?.expired && <Notice>Your session ended. Please log in again.</Notice>}
      {state.status === 'anonymous' && state.loggedOut && <Notice kind="success">You are logged out.</Notice>}
      <form onSubmit={submit} noValidate aria-describedby={error ? 'login-error' : undefined}>
        <label htmlFor="login-email">E-mail</label>
        <input id="login-email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="login-password">Password</label>
        <input id="login-password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        {error && <div id="login-error" className="notice error" role="alert">{error}</div>}
        <button type="submit" disabled={busy || !email || !password}>{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
      <p><Link to="/forgot-password">Forgot password?</Link></p>
      <p>No account yet? <Link to="/signup">Sign up</Link></p>
    </section>
  )
}

export function SignUp () {
  const { state, register } = useAuth()
  const navigate = useNavigate()
  const [name, setName] = useState('')
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [field, setField] = useState<'name' | 'email' | 'password' | null>(null)
  const [busy, setBusy] = useState(false)

  if (state.status === 'signed-in' && !busy) return <Navigate to="/dashboard" replace />

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const weak = passwordProblem(password)
    if (weak) { setError(weak); setField('password'); return }
    setError(null)
    setField(null)
    setBusy(true)
    try {
      await register(name, email, password)
      navigate('/dashboard', { replace: true, state: { welcome: true } })
    } catch (err) {
      setError(errorMessage(err))
      if (err instanceof ApiError) {
        setField(err.code.startsWith('password') ? 'password' : err.code === 'invalid_email' || err.code === 'email_taken' ? 'email' : err.code === 'invalid_name' ? 'name' : null)
      }
      setBusy(false)
    }
  }

  const invalid = (f: typeof field) => (field === f ? { 'aria-invalid': true as const, 'aria-describedby': 'signup-error' } : {})
  return (
    <section className="narrow">
      <h1>Create an account</h1>
      <form onSubmit={submit} noValidate>
        <label htmlFor="signup-name">Your name</label>
        <input id="signup-name" autoComplete="name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} {...invalid('name')} />
        <label htmlFor="signup-email">E-mail</label>
        <input id="signup-email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} {...invalid('email')} />
        <label htmlFor="signup-password">Password</label>
        <input
          id="signup-password" type="password" autoComplete="new-password" required value={password}
          onChange={(e) => setPassword(e.target.value)} aria-describedby="password-hint" {...invalid('password')}
        />
        <p id="password-hint" className="hint">8 to 72 bytes. A few unrelated words make a strong password.</p>
        {error && <div id="signup-error" className="notice error" role="alert">{error}</div>}
        <button type="submit" disabled={busy || !name.trim() || !email || !password}>{busy ? 'Creating account…' : 'Create account'}</button>
      </form>
      <p>Already have an account? <Link to="/login">Log in</Link></p>
    </section>
  )
}
