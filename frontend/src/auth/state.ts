// The console's auth state as a pure reducer: the session itself is the HttpOnly cookie, so the
// browser only knows "who the server says I am", learned from /v1/overseers/me.
import type { Overseer } from '../api/types'

export type AuthState =
  | { status: 'loading' }
  /** `expired`: a live session ended by itself; `loggedOut`: the user just logged out here. */
  | { status: 'anonymous', expired: boolean, loggedOut?: boolean }
  | { status: 'signed-in', overseer: Overseer }

export type AuthAction =
  | { type: 'signed-in', overseer: Overseer }
  /** No session; `logout` when the user asked for it. */
  | { type: 'signed-out', logout?: boolean }
  /** A call answered 401: the session ended server-side (expiry, logout elsewhere). */
  | { type: 'session-lost' }

export const initialAuth: AuthState = { status: 'loading' }

export function authReducer (state: AuthState, action: AuthAction): AuthState {
  switch (action.type) {
    case 'signed-in':
      return { status: 'signed-in', overseer: action.overseer }
    case 'signed-out':
      return action.logout ? { status: 'anonymous', expired: false, loggedOut: true } : { status: 'anonymous', expired: false }
    case 'session-lost':
      // Only a live session can be lost; a 401 while anonymous changes nothing.
      return state.status === 'signed-in' ? { status: 'anonymous', expired: true } : state
  }
}
