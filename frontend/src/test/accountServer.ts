// The overseer account endpoints played by the fake server: a cookie session the page never sees.
import type { Overseer, Subscription } from '../api/types'
import { SIGNED_IN_HINT } from '../auth/AuthContext'
import { apiError, created, fakeServer, ok, type FakeServer } from './fakeServer'

/** What the server puts in the login/register body; the console must never store it anywhere. */
export const SESSION_SECRET = 'sess_Zq9-never-store-this-secret'

export const ada: Overseer = {
  id: '0b7f3c1e-0000-4000-8000-0000000000ad',
  name: 'Ada',
  email: 'ada@example.com',
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
}
export const ADA_PASSWORD = 'correct horse battery'

export const freeSubscription: Subscription = {
  id: null, tier: 'free', status: 'free', is_active: true, is_free_tier: true,
  max_agents: 1, max_clients: 1, max_oauth_per_period: 100,
  billing_period_start: null, billing_period_end: null, next_billed_at: null, grace_period_end: null,
  will_renew: false, scheduled_cancel_at: null,
}

export interface Accounts {
  server: FakeServer
  /** Whether the browser holds a live session cookie; set false to expire it server-side. */
  session: boolean
}

/**
 * `signedIn`: the browser holds a live session cookie (and the console's "logged in before" hint).
 * `hinted`: the hint is there even without a session (it expired while the tab was closed).
 */
export function accountServer ({ signedIn = false, hinted = signedIn }: { signedIn?: boolean, hinted?: boolean } = {}): Accounts {
  if (hinted) localStorage.setItem(SIGNED_IN_HINT, '1')
  const server = fakeServer()
  const accounts: Accounts = { server, session: signedIn }
  const sessionBody = (overseer: Overseer) => ({ overseer, expires_in: 86400, session_id: SESSION_SECRET })
  const authed = <T>(body: T) => () => (accounts.session ? ok(body) : apiError(401, 'unauthorized'))

  server
    .on('GET', '/v1/overseers/me', authed({ overseer: { ...ada, subscription: freeSubscription } }))
    .on('GET', '/v1/subscriptions/me', authed({ subscription: freeSubscription }))
    .on('POST', '/v1/overseers/login', (req) => {
      const { email, password } = req.body as { email: string, password: string }
      if (email !== ada.email || password !== ADA_PASSWORD) return apiError(401, 'invalid_credentials')
      accounts.session = true
      return ok(sessionBody(ada))
    })
    .on('POST', '/v1/overseers/register', (req) => {
      const { name, email, password } = req.body as { name: string, email: string, password: string }
      if (email === ada.email) return apiError(409, 'email_taken')
      if (new TextEncoder().encode(password).length < 8) return apiError(400, 'password_too_short')
      accounts.session = true
      return created(sessionBody({ ...ada, id: '0b7f3c1e-0000-4000-8000-0000000000b0', name, email }))
    })
    .on('POST', '/v1/overseers/logout', () => {
      const had = accounts.session
      accounts.session = false
      return had ? ok({ message: 'Logged out.' }) : apiError(401, 'unauthorized')
    })
  return accounts
}

function entries (storage: Storage): string[] {
  return Array.from({ length: storage.length }, (_, i) => storage.key(i)!).flatMap((k) => [k, storage.getItem(k) ?? ''])
}

/**
 * The session must live only in the HttpOnly cookie: no script-readable place may hold the
 * session id the server sent in the body. (localStorage may hold the "logged in before" hint.)
 */
export function expectNoSessionInBrowserStorage (): void {
  for (const text of [...entries(localStorage), ...entries(sessionStorage), document.cookie]) {
    expect(text).not.toContain(SESSION_SECRET)
  }
  expect(sessionStorage.length).toBe(0)
  expect(entries(localStorage).every((t) => t === SIGNED_IN_HINT || t === '1')).toBe(true)
}

export const hasSignedInHint = () => localStorage.getItem(SIGNED_IN_HINT) === '1'
