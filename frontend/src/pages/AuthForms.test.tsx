import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter, Route, Routes, useLocation } from 'react-router'
import { AuthProvider } from '../auth/AuthContext'
import { accountServer, ADA_PASSWORD, ada, expectNoSessionInBrowserStorage } from '../test/accountServer'
import { apiError } from '../test/fakeServer'
import { LogIn, passwordProblem, SignUp } from './AuthForms'

function Dashboard () {
  const location = useLocation()
  return <p>Dashboard page{(location.state as { welcome?: boolean } | null)?.welcome ? ' (welcome)' : ''}</p>
}

function renderAt (path: string, state?: unknown) {
  return render(
    <AuthProvider>
      <MemoryRouter initialEntries={[{ pathname: path, state }]}>
        <Routes>
          <Route path="/login" element={<LogIn />} />
          <Route path="/signup" element={<SignUp />} />
          <Route path="/dashboard" element={<Dashboard />} />
          <Route path="/clients" element={<p>Clients page</p>} />
        </Routes>
      </MemoryRouter>
    </AuthProvider>,
  )
}

const alertText = async () => (await screen.findByRole('alert')).textContent

describe('LogIn', () => {
  async function logIn (email: string, password: string) {
    const user = userEvent.setup({ delay: null })
    await user.type(screen.getByLabelText('E-mail'), email)
    await user.type(screen.getByLabelText('Password'), password)
    await user.click(screen.getByRole('button', { name: 'Log in' }))
  }

  it('logs in and goes to the dashboard, keeping the session out of script storage', async () => {
    const { server } = accountServer()
    renderAt('/login')
    await logIn(ada.email, ADA_PASSWORD)
    expect(await screen.findByText('Dashboard page')).toBeTruthy()
    expect(server.calls('POST', '/v1/overseers/login')[0]!.body).toEqual({ email: ada.email, password: ADA_PASSWORD })
    expectNoSessionInBrowserStorage()
  })

  it('goes back to the page that sent the overseer to log in', async () => {
    accountServer()
    renderAt('/login', { from: '/clients' })
    await logIn(ada.email, ADA_PASSWORD)
    expect(await screen.findByText('Clients page')).toBeTruthy()
  })

  it('says "Wrong e-mail or password." for wrong credentials, and stays on the form', async () => {
    const { server } = accountServer()
    renderAt('/login')
    await logIn(ada.email, 'not the password')
    expect(await alertText()).toBe('Wrong e-mail or password.')
    expect(server.calls('POST', '/v1/overseers/login')).toHaveLength(1)
    expect(screen.getByRole('heading', { name: 'Log in' })).toBeTruthy()
    expect(screen.queryByText('Your session ended. Please log in again.')).toBeNull() // not taken for an expiry
    expect((screen.getByRole('button', { name: 'Log in' }) as HTMLButtonElement).disabled).toBe(false)
    expectNoSessionInBrowserStorage()
  })

  it('shows the wait of a rate limit from Retry-After', async () => {
    const { server } = accountServer()
    server.on('POST', '/v1/overseers/login', apiError(429, 'rate_limited', { 'Retry-After': '42' }))
    renderAt('/login')
    await logIn(ada.email, ADA_PASSWORD)
    expect(await alertText()).toBe('Too many attempts. Try again in 42 seconds.')
  })

  it('says the session ended when sent here by an expiry', async () => {
    accountServer()
    renderAt('/login', { expired: true })
    expect(screen.getByText('Your session ended. Please log in again.')).toBeTruthy()
  })

  it('sends a signed-in overseer on to the dashboard', async () => {
    const { server } = accountServer({ signedIn: true })
    renderAt('/login')
    expect(await screen.findByText('Dashboard page')).toBeTruthy()
    expect(server.calls('POST', '/v1/overseers/login')).toHaveLength(0)
  })

  it('keeps the button disabled until both fields are filled', async () => {
    const { server } = accountServer()
    const user = userEvent.setup({ delay: null })
    renderAt('/login')
    const button = screen.getByRole('button', { name: 'Log in' }) as HTMLButtonElement
    expect(button.disabled).toBe(true)
    await user.type(screen.getByLabelText('E-mail'), ada.email)
    expect(button.disabled).toBe(true)
    await user.type(screen.getByLabelText('Password'), 'x')
    expect(button.disabled).toBe(false)
    expect(server.requests).toHaveLength(0)
  })
})

describe('SignUp', () => {
  async function signUp (name: string, email: string, password: string) {
    const user = userEvent.setup({ delay: null })
    await user.type(screen.getByLabelText('Your name'), name)
    await user.type(screen.getByLabelText('E-mail'), email)
    await user.type(screen.getByLabelText('Password'), password)
    await user.click(screen.getByRole('button', { name: 'Create account' }))
  }

  it('creates the account and goes to the dashboard with a welcome', async () => {
    const { server } = accountServer()
    renderAt('/signup')
    await signUp('Grace', 'grace@example.com', 'a long passphrase')
    expect(await screen.findByText('Dashboard page (welcome)')).toBeTruthy()
    expect(server.calls('POST', '/v1/overseers/register')[0]!.body).toEqual({ name: 'Grace', email: 'grace@example.com', password: 'a long passphrase' })
    expectNoSessionInBrowserStorage()
  })

  it('rejects a password under 8 bytes without asking the server', async () => {
    const { server } = accountServer()
    renderAt('/signup')
    await signUp('Grace', 'grace@example.com', 'short')
    expect(await alertText()).toBe('Use at least 8 characters.')
    expect(screen.getByLabelText('Password').getAttribute('aria-invalid')).toBe('true')
    expect(screen.getByLabelText('E-mail').getAttribute('aria-invalid')).toBeNull()
    expect(server.requests).toEqual([])
  })

  it('counts bytes, not characters: 4 × "é" is 8 bytes and goes to the server', async () => {
    const { server } = accountServer()
    renderAt('/signup')
    await signUp('Grace', 'grace@example.com', 'éééé')
    expect(await screen.findByText('Dashboard page (welcome)')).toBeTruthy()
    expect(server.calls('POST', '/v1/overseers/register')).toHaveLength(1)
  })

  it('explains a taken e-mail and marks the e-mail field', async () => {
    const { server } = accountServer()
    renderAt('/signup')
    await signUp('Ada again', ada.email, 'a long passphrase')
    expect(await alertText()).toBe('An account with this e-mail already exists. Log in instead.')
    expect(screen.getByLabelText('E-mail').getAttribute('aria-invalid')).toBe('true')
    expect(screen.getByLabelText('Password').getAttribute('aria-invalid')).toBeNull()
    expect(server.calls('POST', '/v1/overseers/register')).toHaveLength(1)
    expect(screen.getByRole('heading', { name: 'Create an account' })).toBeTruthy()
  })

  it('shows the wait of a rate limit from Retry-After', async () => {
    const { server } = accountServer()
    server.on('POST', '/v1/overseers/register', apiError(429, 'rate_limited', { 'retry-after': '7' }))
    renderAt('/signup')
    await signUp('Grace', 'grace@example.com', 'a long passphrase')
    expect(await alertText()).toBe('Too many attempts. Try again in 7 seconds.')
  })
})

describe('passwordProblem', () => {
  it('accepts 8 to 72 UTF-8 bytes', () => {
    expect(passwordProblem('1234567')).toBe('Use at least 8 characters.')
    expect(passwordProblem('12345678')).toBeNull()
    expect(passwordProblem('ééé')).toBe('Use at least 8 characters.') // 6 bytes
    expect(passwordProblem('x'.repeat(72))).toBeNull()
    expect(passwordProblem('x'.repeat(73))).toMatch(/at most 72 bytes/)
    expect(passwordProblem('é'.repeat(37))).toMatch(/at most 72 bytes/) // 37 characters, 74 bytes
  })
})

