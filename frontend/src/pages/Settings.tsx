import { useEffect, useRef, useState, type FormEvent } from 'react'
import { Link, useLocation, useNavigate } from 'react-router'
import { api } from '../api/client'
import type { AccountSession } from '../api/types'
import { useAuth } from '../auth/AuthContext'
import { ConfirmButton } from '../components/ConfirmButton'
import { ErrorNotice, Loading, Notice } from '../components/Notice'
import { formatDateTime } from '../lib/format'
import { useAction, useLoad } from '../lib/useAsync'
import { passwordProblem } from './AuthForms'

/** Account settings: password, e-mail address, sessions, data export and account deletion. */
export function Settings () {
  const { state } = useAuth()
  const email = state.status === 'signed-in' ? state.overseer.email : ''
  return (
    <>
      <h1>Settings</h1>
      <ChangePassword />
      <ChangeEmail current={email} />
      <Sessions />
      <section className="card" aria-labelledby="export-title">
        <h2 id="export-title">Your data</h2>
        <p>
          Download everything this service holds about your account as JSON: your account, the agents you
          oversee, your OAuth clients, subscriptions, sessions and your latest 1000 activity events.
        </p>
        <a className="button" href={api.exportUrl} download="agent-id-account-export.json">Download my data</a>
      </section>
      <DeleteAccount />
    </>
  )
}

function ChangePassword () {
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [done, setDone] = useState<string | null>(null)
  const change = useAction(async () => {
    const { sessions_ended: ended } = await api.changePassword(current, next)
    setCurrent(''); setNext('')
    setDone(`Password changed. ${ended === 1 ? '1 other session was' : `${ended} other sessions were`} signed out.`)
  })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    setDone(null)
    const problem = passwordProblem(next)
    if (!current) { change.setError(new Error('Enter your current password.')); return }
    if (problem) { change.setError(new Error(`New password: ${problem}`)); return }
    void change.run()
  }
  return (
    <section className="card" aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      <p>Changing your password signs out every other browser and device; this one stays signed in.</p>
      <form onSubmit={submit} noValidate>
        <label htmlFor="current-password">Current password</label>
        <input id="current-password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
        <label htmlFor="new-password">New password</label>
        <input id="new-password" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required aria-describedby="new-password-hint" />
        <p id="new-password-hint" className="muted">8 to 72 bytes.</p>
        <button type="submit" disabled={change.busy}>Change password</button>
      </form>
      <ErrorNotice error={change.error} />
      {done && <Notice kind="success">{done}</Notice>}
    </section>
  )
}

function ChangeEmail ({ current }: { current: string }) {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [sentTo, setSentTo] = useState<string | null>(null)
  const request = useAction(async () => {
    const to = email.trim()
    await api.requestEmailChange(to, password)
    setPassword('')
    setSentTo(to)
  })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    setSentTo(null)
    if (!email.trim()) { request.setError(new Error('Enter the new e-mail address.')); return }
    if (!password) { request.setError(new Error('Enter your password to confirm.')); return }
    void request.run()
  }
  return (
    <section className="card" aria-labelledby="email-title">
      <h2 id="email-title">E-mail address</h2>
      <p>Your address is <strong>{current}</strong>. A new address takes effect once you open the link we send to it; your current address is told when it changes.</p>
      <form onSubmit={submit} noValidate>
        <label htmlFor="new-email">New e-mail address</label>
        <input id="new-email" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        <label htmlFor="email-password">Password</label>
        <input id="email-password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        <button type="submit" disabled={request.busy}>Send confirmation link</button>
      </form>
      <ErrorNotice error={request.error} />
      {sentTo && <Notice kind="success">We sent a link to {sentTo}. Open it within 24 hours, signed in, to confirm the change.</Notice>}
    </section>
  )
}

/** A short description of a session's browser from its `User-Agent`. */
export function describeAgent (ua: string | null): string {
  if (!ua) return 'Unknown browser'
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrome\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua) ? 'Safari' : null
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /Android/.test(ua)
      ? 'Android'
      : /iPhone|iPad/.test(ua)
        ? 'iOS'
        : /Mac OS X|Macintosh/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : null
  if (browser && os) return `${browser} on ${os}`
  return browser ?? os ?? ua.slice(0, 60)
}

function Sessions () {
  const load = useLoad(() => api.sessions(), [])
  const [notice, setNotice] = useState<string | null>(null)
  const endOthers = useAction(async () => {
    const { ended } = await api.endOtherSessions()
    setNotice(ended === 1 ? '1 other session was signed out.' : `${ended} other sessions were signed out.`)
    await load.reload()
  })
  const endOne = useAction(async (s: AccountSession) => {
    await api.endSession(s.id)
    setNotice(`Signed out ${describeAgent(s.user_agent)}.`)
    await load.reload()
  })
  const sessions = load.data?.sessions ?? null
  const others = sessions?.filter((s) => !s.current).length ?? 0
  return (
    <section className="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <p>Browsers and devices signed in to your account. Ending a session signs it out at once.</p>
      <ErrorNotice error={load.error ?? endOne.error ?? endOthers.error} />
      {notice && <Notice kind="success">{notice}</Notice>}
      {sessions === null
        ? (load.error ? null : <Loading what="sessions" />)
        : (
          <ul className="cards" aria-label="Active sessions">
            {sessions.map((s) => (
              <li key={s.id} className="card">
                <strong>{describeAgent(s.user_agent)}</strong>
                {s.current && <> · <span className="badge">This browser</span></>}
                <br />
                <span className="muted">Signed in {formatDateTime(s.created_at)}{s.ip ? ` from ${s.ip}` : ''}</span>
                {!s.current && (
                  <div>
                    <button type="button" className="danger-outline" disabled={endOne.busy} onClick={() => void endOne.run(s)}
                      aria-label={`End session: ${describeAgent(s.user_agent)}, signed in ${formatDateTime(s.created_at)}`}
                    >End</button>
                  </div>
                )}
              </li>
            ))}
          </ul>
          )}
      {others > 0 && (
        <ConfirmButton
          label="End all other sessions" confirmLabel="End them" question={`Sign out ${others} other session${others === 1 ? '' : 's'}?`}
          onConfirm={() => endOthers.run()}
        />
      )}
    </section>
  )
}

function DeleteAccount () {
  const { logout } = useAuth()
  const navigate = useNavigate()
  const [password, setPassword] = useState('')
  const [understood, setUnderstood] = useState(false)
  const remove = useAction(async () => {
    await api.deleteAccount(password)
    // Leave the signed-in page first (else it would send the now signed-out browser to log in),
    // then drop the local state: the server already ended every session.
    navigate('/', { replace: true, state: { accountDeleted: true } })
    await logout()
  })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    if (!understood) { remove.setError(new Error('Tick the box to confirm you understand what deletion does.')); return }
    if (!password) { remove.setError(new Error('Enter your password to confirm.')); return }
    void remove.run()
  }
  return (
    <section className="card danger-zone" aria-labelledby="delete-title">
      <h2 id="delete-title">Delete account</h2>
      <p>Deleting your account cannot be undone. It:</p>
      <ul id="delete-consequences">
        <li>declaims every agent you oversee: each keeps its identity but loses your tier, and its OAuth clients fall back to the free limits;</li>
        <li>cancels your paid subscription at the end of the current billing period (no refund for the rest of it);</li>
        <li>deletes your OAuth clients, so apps using them stop working;</li>
        <li>signs out every session, on every device;</li>
        <li>erases your name, e-mail address, password and billing link. Payment and audit records that must be kept stay, anonymised.</li>
      </ul>
      <p>Consider <a href={api.exportUrl} download="agent-id-account-export.json">downloading your data</a> first.</p>
      <form onSubmit={submit} noValidate aria-describedby="delete-consequences">
        <label className="check">
          <input type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.target.checked)} />
          {' '}I understand that this deletes my account for good
        </label>
        <label htmlFor="delete-password">Password</label>
        <input id="delete-password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        <button type="submit" className="danger" disabled={remove.busy}>Delete my account</button>
      </form>
      <ErrorNotice error={remove.error} />
    </section>
  )
}

/** `/settings/email?token=…`: the link mailed to a new address; confirms it once, signed in. */
export function ConfirmEmailChange () {
  const { refresh } = useAuth()
  const location = useLocation()
  const token = new URLSearchParams(location.search).get('token') ?? ''
  const [email, setEmail] = useState<string | null>(null)
  const confirm = useAction(async () => {
    const { overseer } = await api.confirmEmailChange(token)
    setEmail(overseer.email)
    await refresh()
  })
  const sent = useRef(false)
  useEffect(() => {
    // Once per page load: a token is single use.
    if (sent.current) return
    sent.current = true
    if (token) void confirm.run()
    else confirm.setError(new Error('This link has no token. Open the link from the e-mail again.'))
  }, [token, confirm.run, confirm.setError])
  return (
    <>
      <h1>Confirm your new e-mail address</h1>
      {email
        ? <Notice kind="success">Your e-mail address is now {email}.</Notice>
        : confirm.busy ? <Loading what="the confirmation" /> : null}
      <ErrorNotice error={confirm.error} />
      <p><Link to="/settings">Back to Settings</Link></p>
    </>
  )
}
