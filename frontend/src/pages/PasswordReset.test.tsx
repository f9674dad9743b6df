import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter, Route, Routes } from 'react-router'
import { AuthProvider } from '../auth/AuthContext'
import { apiError, fakeServer } from '../test/fakeServer'
import { LogIn } from './AuthForms'
import { ForgotPassword, ResetPassword } from './PasswordReset'

const TOKEN = 'A'.repeat(43)

function renderAt (path: string) {
  return render(
    <AuthProvider>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path="/login" element={<LogIn />} />
          <Route path="/forgot-password" element={<ForgotPassword />} />
          <Route path="/reset-password" element={<ResetPassword />} />
        </Routes>
      </MemoryRouter>
    </AuthProvider>,
  )
}

describe('ForgotPassword', () => {
  it('is reached from the log-in page', async () => {
    fakeServer()
    renderAt('/login')
    await userEvent.setup({ delay: null }).click(screen.getByRole('link', { name: 'Forgot password?' }))
    expect(await screen.findByRole('heading', { name: 'Forgot your password?' })).toBeTruthy()
  })

  it('asks for a link and says the same whatever the address', async () => {
    const server = fakeServer().on('POST', '/v1/overseers/password-reset', { status: 202, body: { success: true, message: 'queued' } })
    renderAt('/forgot-password')
    const user = userEvent.setup({ delay: null })
    await user.type(screen.getByLabelText('E-mail'), 'ada@example.com')
    await user.click(screen.getByRole('button', { name: 'Send reset link' }))
    expect(await screen.findByRole('heading', { name: 'Check your e-mail' })).toBeTruthy()
    expect(screen.getByRole('status').textContent).toContain('If an account uses ada@example.com')
    expect(server.calls('POST', '/v1/overseers/password-reset')[0]!.body).toEqual({ email: 'ada@example.com' })
  })

  it('shows the server refusal of a malformed address', async () => {
    fakeServer().on('POST', '/v1/overseers/password-reset', apiError(400, 'invalid_email'))
    renderAt('/forgot-password')
    const user = userEvent.setup({ delay: null })
    await user.type(screen.getByLabelText('E-mail'), 'nope')
    await user.click(screen.getByRole('button', { name: 'Send reset link' }))
    expect((await screen.findByRole('alert')).textContent).toBe('That does not look like an e-mail address.')
    expect(screen.getByLabelText('E-mail').getAttribute('aria-invalid')).toBe('true')
  })
})

describe('ResetPassword', () => {
  async function choose (password: string, confirm = password) {
    const user = userEvent.setup({ delay: null })
    await user.type(screen.getByLabelText('New password'), password)
    await user.type(screen.getByLabelText('Repeat the new password'), confirm)
    await user.click(screen.getByRole('button', { name: 'Set new password' }))
  }

  it('sets the new password with the token of the link', async () => {
    const server = fakeServer().on('POST', '/v1/overseers/password-reset/complete', { status: 200, body: { success: true, message: 'ok' } })
    renderAt(`/reset-password?token=${TOKEN}`)
    await choose('a brand new secret')
    expect(await screen.findByRole('heading', { name: 'Password changed' })).toBeTruthy()
    expect(server.calls('POST', '/v1/overseers/password-reset/complete')[0]!.body)
      .toEqual({ token: TOKEN, password: 'a brand new secret' })
    expect(screen.getByRole('link', { name: 'Log in with the new password' })).toBeTruthy()
  })

  it('checks the password rule and the repetition before asking the server', async () => {
    const server = fakeServer()
    renderAt(`/reset-password?token=${TOKEN}`)
    await choose('short')
    expect((await screen.findByRole('alert')).textContent).toBe('Use at least 8 characters.')
    await choose('long enough one', 'long enough two')
    expect((await screen.findByRole('alert')).textContent).toBe('The two passwords differ.')
    expect(server.requests).toHaveLength(0)
  })

  it('offers a new link when the token is used or expired', async () => {
    fakeServer().on('POST', '/v1/overseers/password-reset/complete', apiError(400, 'token_invalid'))
    renderAt(`/reset-password?token=${TOKEN}`)
    await choose('a brand new secret')
    expect((await screen.findByRole('alert')).textContent).toBe('This link is invalid, already used or expired.')
    expect(screen.getByRole('link', { name: 'Ask for a new link' }).getAttribute('href')).toBe('/forgot-password')
  })

  it('says so at once when the link has no token', () => {
    const server = fakeServer()
    renderAt('/reset-password')
    expect(screen.getByRole('alert').textContent).toBe('This link is invalid, already used or expired.')
    expect(server.requests).toHaveLength(0)
  })
})
