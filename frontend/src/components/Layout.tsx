import { useEffect, useRef, useState } from 'react'
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router'
import { useAuth } from '../auth/AuthContext'
import { errorMessage } from '../lib/messages'
import { PaymentBanner } from './PaymentBanner'

/** Page chrome: skip link, navigation, and focus moved to the main heading on navigation. */
export function Layout () {
  const { state, logout } = useAuth()
  const navigate = useNavigate()
  const location = useLocation()
  const main = useRef<HTMLElement>(null)
  const [logoutError, setLogoutError] = useState<string | null>(null)
  const first = useRef(true)

  useEffect(() => {
    if (first.current) { first.current = false; return }
    const h1 = main.current?.querySelector('h1')
    if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus() }
  }, [location.pathname])

  const signedIn = state.status === 'signed-in'
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <nav aria-label="Main">
          <Link to="/" className="brand">agent-id</Link>
          {signedIn
            ? (
              <ul>
                <li><NavLink to="/dashboard">Dashboard</NavLink></li>
                <li><NavLink to="/clients">Clients</NavLink></li>
                <li><NavLink to="/resources">Resources</NavLink></li>
                <li><NavLink to="/subscription">Subscription</NavLink></li>
                <li><NavLink to="/activity">Activity</NavLink></li>
                <li><NavLink to="/settings" end>Settings</NavLink></li>
                <li>
                  <button
                    type="button"
                    className="link"
                    onClick={async () => {
                      setLogoutError(null)
                      try { await logout(); navigate('/login', { replace: true }) } catch (e) { setLogoutError(errorMessage(e)) }
                    }}
                  >Log out</button>
                </li>
              </ul>
              )
            : state.status === 'anonymous'
              ? (
                <ul>
                  <li><NavLink to="/login">Log in</NavLink></li>
                  <li><NavLink to="/signup">Sign up</NavLink></li>
                </ul>
                )
              : null}
        </nav>
        {signedIn && <p className="who">Signed in as {state.overseer.email}</p>}
      </header>
      {logoutError && <div className="notice error" role="alert">{logoutError}</div>}
      {signedIn && <PaymentBanner />}
      <main id="main" ref={main}>
        <Outlet />
      </main>
      <footer className="foot">
        <span>agent-id · identity for AI agents</span>
        <a href="/v1">API service info</a>
      </footer>
    </>
  )
}
