import { createContext, useCallback, useContext, useEffect, useMemo, useReducer, type ReactNode } from 'react'
import { api, ApiError, setUnauthorizedHandler } from '../api/client'
import { authReducer, initialAuth, type AuthState } from './state'

interface AuthApi {
  state: AuthState
  login: (email: string, password: string) => Promise<void>
  register: (name: string, email: string, password: string) => Promise<void>
  logout: () => Promise<void>
  /** Reads the account again (after a settings change such as a new e-mail address). */
  refresh: () => Promise<void>
}

const AuthContext = createContext<AuthApi | null>(null)

/**
 * A hint (not a credential) that this browser logged in before, so anonymous visitors are not sent
 * to /v1/overseers/me just to be refused. The session itself stays in the HttpOnly cookie.
 */
export const SIGNED_IN_HINT = 'agent-id:signed-in'
const hint = {
  get: () => { try { return localStorage.getItem(SIGNED_IN_HINT) === '1' } catch { return true } },
  set: () => { try { localStorage.setItem(SIGNED_IN_HINT, '1') } catch { /* storage disabled */ } },
  clear: () => { try { localStorage.removeItem(SIGNED_IN_HINT) } catch { /* storage disabled */ } },
}

export function AuthProvider ({ children }: { children: ReactNode }) {
  const [state, dispatch] = useReducer(authReducer, initialAuth)

  useEffect(() => {
    let live = true
    setUnauthorizedHandler(() => { hint.clear(); dispatch({ type: 'session-lost' }) })
    if (!hint.get()) {
      dispatch({ type: 'signed-out' })
    } else {
      api.me().then(
        ({ overseer }) => { if (live) dispatch({ type: 'signed-in', overseer }) },
        () => { hint.clear(); if (live) dispatch({ type: 'signed-out' }) },
      )
    }
    return () => { live = false; setUnauthorizedHandler(null) }
  }, [])

  const login = useCallback(async (email: string, password: string) => {
    const { overseer } = await api.login(email, password)
    hint.set()
    dispatch({ type: 'signed-in', overseer })
  }, [])

  const register = useCallback(async (name: string, email: string, password: string) => {
    const { overseer } = await api.register(name, email, password)
    hint.set()
    dispatch({ type: 'signed-in', overseer })
  }, [])

  const logout = useCallback(async () => {
    try {
      await api.logout()
    } catch (e) {
      // Already logged out server-side is fine; anything else is shown by the caller.
      if (!(e instanceof ApiError && e.status === 401)) throw e
    }
    hint.clear()
    dispatch({ type: 'signed-out', logout: true })
  }, [])

  const refresh = useCallback(async () => {
    const { overseer } = await api.me()
    dispatch({ type: 'signed-in', overseer })
  }, [])

  const value = useMemo(() => ({ state, login, register, logout, refresh }), [state, login, register, logout, refresh])
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>
}

export function useAuth (): AuthApi {
  const ctx = useContext(AuthContext)
  if (!ctx) throw new Error('useAuth outside <AuthProvider>')
  return ctx
}
