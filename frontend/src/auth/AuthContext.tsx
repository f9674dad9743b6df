import { createContext, useCallback, useContext, useEffect, useMemo, useReducer, type ReactNode } from 'react'
import { api, ApiError, setUnauthorizedHandler } from '../api/client'
import { authReducer, initialAuth, type AuthState } from './state'

interface AuthApi {
  state: AuthState
  login: (email: string, password: string) => Promise<void>
  register: (name: string, email: string, password: string) => Promise<void>
  logout: () => Promise<void>
}

const AuthContext = createContext<AuthApi | null>(null)

export function AuthProvider ({ children }: { children: ReactNode }) {
  const [state, dispatch] = useReducer(authReducer, initialAuth)

  useEffect(() => {
    let live = true
    setUnauthorizedHandler(() => dispatch({ type: 'session-lost' }))
    api.me().then(
      ({ overseer }) => { if (live) dispatch({ type: 'signed-in', overseer }) },
      () => { if (live) dispatch({ type: 'signed-out' }) },
    )
    return () => { live = false; setUnauthorizedHandler(null) }
  }, [])

  const login = useCallback(async (email: string, password: string) => {
    const { overseer } = await api.login(email, password)
    dispatch({ type: 'signed-in', overseer })
  }, [])

  const register = useCallback(async (name: string, email: string, password: string) => {
    const { overseer } = await api.register(name, email, password)
    dispatch({ type: 'signed-in', overseer })
  }, [])

  const logout = useCallback(async () => {
    try {
      await api.logout()
    } catch (e) {
      // Already logged out server-side is fine; anything else is shown by the caller.
      if (!(e instanceof ApiError && e.status === 401)) throw e
    }
    dispatch({ type: 'signed-out' })
  }, [])

  const value = useMemo(() => ({ state, login, register, logout }), [state, login, register, logout])
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>
}

export function useAuth (): AuthApi {
  const ctx = useContext(AuthContext)
  if (!ctx) throw new Error('useAuth outside <AuthProvider>')
  return ctx
}
