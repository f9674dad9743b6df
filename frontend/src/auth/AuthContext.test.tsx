import { render, renderHook, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { useState } from 'react'
import { api, ApiError } from '../api/client'
import { accountServer, ADA_PASSWORD, ada, expectNoSessionInBrowserStorage, hasSignedInHint } from '../test/accountServer'
import { AuthProvider, useAuth } from './AuthContext'

/** Shows the auth state and offers the actions a page would take. */
function Probe () {
  const { state, login, logout } = useAuth()
  const [failure, setFailure] = useState('')
  const fail = (e: unknown) => setFailure(e instanceof ApiError ? e.code : String(e))
  const text = state.status === 'signed-in'
    ? `signed in as ${state.overseer.email}`
    : state.status === 'anonymous'
      ? `anonymous${state.expired ? ' (session expired)' : ''}${state.loggedOut ? ' (logged out)' : ''}`
      : 'loading'
  return (
    <>
      <p data-testid="auth">{text}</p>
      <p data-testid="failure">{failure}</p>
      <button onClick={() => { login(ada.email, ADA_PASSWORD).catch(fail) }}>log in</button>
      <button onClick={() => { login(ada.email, 'wrong password').catch(fail) }}>log in wrongly</button>
      <button onClick={() => { api.subscription().catch(fail) }}>load subscription</button>
      <button onClick={() => { logout().catch(fail) }}>log out</button>
    </>
  )
}

const auth = () => screen.getByTestId('auth').textContent
const renderProbe = () => render(<AuthProvider><Probe /></AuthProvider>)

describe('AuthProvider', () => {
  it('a browser that never logged in is anonymous without asking the server', async () => {
    const { server } = accountServer()
    renderProbe()
    await waitFor(() => expect(auth()).toBe('anonymous'))
    expect(server.requests).toEqual([])
  })

  it('asks the server when this browser logged in before: a 401 means anonymous, not expired', async () => {
    const { server } = accountServer({ hinted: true })
    renderProbe()
    expect(auth()).toBe('loading')
    await waitFor(() => expect(auth()).toBe('anonymous'))
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/overseers/me'])
    expect(hasSignedInHint()).toBe(false) // the next visit does not ask again
  })

  it('is signed in at once when the session cookie is still good', async () => {
    accountServer({ signedIn: true })
    renderProbe()
    expect(auth()).toBe('loading')
    await waitFor(() => expect(auth()).toBe(`signed in as ${ada.email}`))
  })

  it('logs in with the cookie session and stores nothing itself', async () => {
    const { server } = accountServer()
    const user = userEvent.setup()
    renderProbe()
    await waitFor(() => expect(auth()).toBe('anonymous'))

    await user.click(screen.getByRole('button', { name: 'log in' }))
    await waitFor(() => expect(auth()).toBe(`signed in as ${ada.email}`))
    expect(server.calls('POST', '/v1/overseers/login')).toEqual([
      { method: 'POST', path: '/v1/overseers/login', body: { email: ada.email, password: ADA_PASSWORD }, credentials: 'same-origin' },
    ])
    expectNoSessionInBrowserStorage()
    expect(hasSignedInHint()).toBe(true)
  })

  it('wrong credentials leave it anonymous and are not a lost session', async () => {
    accountServer()
    const user = userEvent.setup()
    renderProbe()
    await waitFor(() => expect(auth()).toBe('anonymous'))
    await user.click(screen.getByRole('button', { name: 'log in wrongly' }))
    await waitFor(() => expect(screen.getByTestId('failure').textContent).toBe('invalid_credentials'))
    expect(auth()).toBe('anonymous')
  })

  it('a 401 on a later authenticated call drops to anonymous with expired=true', async () => {
    const accounts = accountServer({ signedIn: true })
    const user = userEvent.setup()
    renderProbe()
    await waitFor(() => expect(auth()).toBe(`signed in as ${ada.email}`))

    await user.click(screen.getByRole('button', { name: 'load subscription' }))
    await waitFor(() => expect(accounts.server.calls('GET', '/v1/subscriptions/me')).toHaveLength(1))
    expect(auth()).toBe(`signed in as ${ada.email}`) // a good answer changes nothing

    accounts.session = false // the session ends server-side
    await user.click(screen.getByRole('button', { name: 'load subscription' }))
    await waitFor(() => expect(auth()).toBe('anonymous (session expired)'))
    expect(screen.getByTestId('failure').textContent).toBe('unauthorized')
    expect(hasSignedInHint()).toBe(false)
  })

  it('logs out', async () => {
    const accounts = accountServer({ signedIn: true })
    const user = userEvent.setup()
    renderProbe()
    await waitFor(() => expect(auth()).toBe(`signed in as ${ada.email}`))

    await user.click(screen.getByRole('button', { name: 'log out' }))
    await waitFor(() => expect(auth()).toBe('anonymous (logged out)'))
    expect(accounts.server.calls('POST', '/v1/overseers/logout')).toHaveLength(1)
    expect(accounts.session).toBe(false)
    expect(hasSignedInHint()).toBe(false)
  })

  it('logs out even when the server says the session was already gone', async () => {
    const accounts = accountServer({ signedIn: true })
    const user = userEvent.setup()
    renderProbe()
    await waitFor(() => expect(auth()).toBe(`signed in as ${ada.email}`))

    accounts.session = false
    await user.click(screen.getByRole('button', { name: 'log out' }))
    await waitFor(() => expect(auth()).toBe('anonymous (logged out)'))
    expect(screen.getByTestId('failure').textContent).toBe('')
  })

  it('stays signed in when logging out fails for another reason', async () => {
    const accounts = accountServer({ signedIn: true })
    accounts.server.on('POST', '/v1/overseers/logout', { status: 503, body: { error: 'down', code: 'unavailable' } })
    const user = userEvent.setup()
    renderProbe()
    await waitFor(() => expect(auth()).toBe(`signed in as ${ada.email}`))

    await user.click(screen.getByRole('button', { name: 'log out' }))
    await waitFor(() => expect(screen.getByTestId('failure').textContent).toBe('unavailable'))
    expect(auth()).toBe(`signed in as ${ada.email}`)
    expect(hasSignedInHint()).toBe(true)
  })

  it('stops listening for 401s once unmounted', async () => {
    const accounts = accountServer({ signedIn: true })
    const { unmount } = renderProbe()
    await waitFor(() => expect(auth()).toBe(`signed in as ${ada.email}`))
    unmount()
    accounts.session = false
    await expect(api.subscription()).rejects.toMatchObject({ status: 401 })
  })

  it('useAuth outside the provider is a programming error', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
    expect(() => renderHook(() => useAuth())).toThrow('useAuth outside <AuthProvider>')
  })
})
