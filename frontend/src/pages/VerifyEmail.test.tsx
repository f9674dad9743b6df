import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter, Route, Routes } from 'react-router'
import { apiError, fakeServer, ok } from '../test/fakeServer'
import { EmailVerificationStatus, VerifyEmail } from './VerifyEmail'

const TOKEN = 'B'.repeat(43)
const me = (verified: boolean) => ok({
  success: true,
  overseer: { email: 'ada@example.com', email_verified: verified, email_verified_at: verified ? '2026-01-01T00:00:00.000Z' : null },
})

function renderAt (path: string) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/verify-email" element={<VerifyEmail />} />
        <Route path="/dashboard" element={<EmailVerificationStatus />} />
      </Routes>
    </MemoryRouter>,
  )
}

describe('VerifyEmail', () => {
  it('sends the token of the link once and says the address is verified', async () => {
    const server = fakeServer().on('POST', '/v1/overseers/email-verification/complete',
      ok({ success: true, email_verified: true, email_verified_at: '2026-01-01T00:00:00.000Z' }))
    renderAt(`/verify-email?token=${TOKEN}`)
    expect((await screen.findByText('Your e-mail address is verified. Thank you!'))).toBeTruthy()
    expect(server.calls('POST', '/v1/overseers/email-verification/complete').map((r) => r.body)).toEqual([{ token: TOKEN }])
  })

  it('explains a used or expired link', async () => {
    fakeServer().on('POST', '/v1/overseers/email-verification/complete', apiError(400, 'token_invalid'))
    renderAt(`/verify-email?token=${TOKEN}`)
    expect((await screen.findByRole('alert')).textContent).toBe('This link is invalid, already used or expired. Ask for a new one.')
  })
})

describe('EmailVerificationStatus', () => {
  it('shows a verified address', async () => {
    fakeServer().on('GET', '/v1/overseers/me', me(true))
    renderAt('/dashboard')
    expect((await screen.findByTestId('email-status')).textContent).toBe('E-mail ada@example.com verified.')
  })

  it('offers to send a new link to an unverified address', async () => {
    const server = fakeServer()
      .on('GET', '/v1/overseers/me', me(false))
      .on('POST', '/v1/overseers/email-verification', { status: 202, body: { success: true, message: 'sent' } })
    renderAt('/dashboard')
    expect(await screen.findByRole('heading', { name: 'Your e-mail address is not verified' })).toBeTruthy()
    await userEvent.setup({ delay: null }).click(screen.getByRole('button', { name: 'Send a new link' }))
    expect(await screen.findByText('A new link is on its way to ada@example.com.')).toBeTruthy()
    expect(server.calls('POST', '/v1/overseers/email-verification')).toHaveLength(1)
  })

  it('shows why a new link was refused', async () => {
    fakeServer()
      .on('GET', '/v1/overseers/me', me(false))
      .on('POST', '/v1/overseers/email-verification', apiError(429, 'rate_limited', { 'retry-after': '60' }))
    renderAt('/dashboard')
    await userEvent.setup({ delay: null }).click(await screen.findByRole('button', { name: 'Send a new link' }))
    expect((await screen.findByRole('alert')).textContent).toBe('Too many attempts. Try again in 60 seconds.')
  })
})
