import type { Overseer } from '../api/types'
import { authReducer, initialAuth, type AuthState } from './state'

const overseer: Overseer = {
  id: '0b7f3c1e-0000-4000-8000-000000000001',
  name: 'Ada',
  email: 'ada@example.com',
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
}

describe('authReducer', () => {
  it('starts loading', () => {
    expect(initialAuth).toEqual({ status: 'loading' })
  })

  it('loading → signed-in when the server knows the session', () => {
    expect(authReducer(initialAuth, { type: 'signed-in', overseer })).toEqual({ status: 'signed-in', overseer })
  })

  it('loading → anonymous (not expired) when there is no session', () => {
    expect(authReducer(initialAuth, { type: 'signed-out' })).toEqual({ status: 'anonymous', expired: false })
  })

  it('signed-in → anonymous with expired=true when the session is lost', () => {
    const signedIn: AuthState = { status: 'signed-in', overseer }
    expect(authReducer(signedIn, { type: 'session-lost' })).toEqual({ status: 'anonymous', expired: true })
  })

  it('a lost session while not signed in changes nothing', () => {
    const anonymous: AuthState = { status: 'anonymous', expired: false }
    expect(authReducer(anonymous, { type: 'session-lost' })).toBe(anonymous)
    expect(authReducer(initialAuth, { type: 'session-lost' })).toBe(initialAuth)
  })

  it('signing out clears the expired flag; signing in again replaces it', () => {
    const expired: AuthState = { status: 'anonymous', expired: true }
    expect(authReducer(expired, { type: 'signed-out' })).toEqual({ status: 'anonymous', expired: false })
    expect(authReducer(expired, { type: 'signed-in', overseer })).toEqual({ status: 'signed-in', overseer })
  })

  it('a logout of a signed-in overseer is not an expiry, and is remembered as a logout', () => {
    expect(authReducer({ status: 'signed-in', overseer }, { type: 'signed-out', logout: true }))
      .toEqual({ status: 'anonymous', expired: false, loggedOut: true })
  })
})
