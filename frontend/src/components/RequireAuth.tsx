import type { ReactNode } from 'react'
import { Navigate, useLocation } from 'react-router'
import { useAuth } from '../auth/AuthContext'
import { Loading } from './Notice'

/** Pages for signed-in overseers; others are sent to log in and brought back afterwards. */
export function RequireAuth ({ children }: { children: ReactNode }) {
  const { state } = useAuth()
  const location = useLocation()
  if (state.status === 'loading') return <Loading what="your session" />
  if (state.status === 'anonymous') {
    // After a deliberate logout the next log-in starts at the dashboard, not the last page.
    return <Navigate to="/login" replace state={state.loggedOut ? null : { from: location.pathname + location.search, expired: state.expired }} />
  }
  return <>{children}</>
}
