import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter, Route, Routes, useLocation } from 'react-router'
import type { AccountSession } from '../api/types'
import { AuthProvider } from '../auth/AuthContext'
import { accountServer, ada, ADA_PASSWORD, freeSubscription } from '../test/accountServer'
import { apiError, ok } from '../test/fakeServer'
import { ConfirmEmailChange, describeAgent, Settings } from './Settings'

// Typing through several forms takes a while on a loaded machine; the default 5 s is too tight.
vi.setConfig({ testTimeout: 20_000 })

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0'
const SAFARI = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Mobile/15E148 Safari/604.1'

const sessions: AccountSession[] = [
  { id: '11111111-0000-4000-8000-000000000001', created_at: '2026-05-02T10:00:00.000Z', expires_at: '2026-05-09T10:00:00.000Z', user_agent: FIREFOX, ip: '198.51.100.7', current: true },
  { id: '11111111-0000-4000-8000-000000000002', created_at: '2026-05-01T09:00:00.000Z', expires_at: '2026-05-08T09:00:00.000Z', user_agent: SAFARI, ip: '203.0.113.9', current: false },
]

function Home () {
  const location = useLocation()
  return <p>Home page{(location.state as { accountDeleted?: boolean } | null)?.accountDeleted ? ' (deleted)' : ''}</p>
}

function setup (path = '/settings') {
  const accounts = accountServer({ signedIn: true })
  accounts.server.on('GET', '/v1/overseers/me/sessions', ok({ sessions }))
  render(
    <AuthProvider>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path="/settings" element={<Settings />} />
          <Route path="/settings/email" element={<ConfirmEmailChange />} />
          <Route path="/" element={<Home />} />
        </Routes>
      </MemoryRouter>
    </AuthProvider>,
  )
  return { ...accounts, user: userEvent.setup({ delay: null }) }
}

const section = (name: string) => screen.getByRole('region', { name })

describe('Settings: password', () => {
  it('changes the password with the current one and says how many sessions ended', async () => {
    const { server, user } = setup()
    server.on('POST', '/v1/overseers/me/password', ok({ message: 'ok', sessions_ended: 2 }))
    const box = section('Password')
    await user.type(within(box).getByLabelText('Current password'), ADA_PASSWORD)
    await user.type(within(box).getByLabelText('New password'), 'a brand new secret')
    await user.click(within(box).getByRole('button', { name: 'Change password' }))
    expect(await within(box).findByRole('status')).toHaveProperty('textContent', 'Password changed. 2 other sessions were signed out.')
    expect(server.calls('POST', '/v1/overseers/me/password')[0]!.body)
      .toEqual({ current_password: ADA_PASSWORD, new_password: 'a brand new secret' })
  })

  it('shows a wrong current password plainly', async () => {
    const { server, user } = setup()
    server.on('POST', '/v1/overseers/me/password', apiError(403, 'wrong_password'))
    const box = section('Password')
    await user.type(within(box).getByLabelText('Current password'), 'not it')
    await user.type(within(box).getByLabelText('New password'), 'a brand new secret')
    await user.click(within(box).getByRole('button', { name: 'Change password' }))
    expect((await within(box).findByRole('alert')).textContent).toBe('That is not your current password.')
  })

  it('refuses a too short new password without asking the server', async () => {
    const { server, user } = setup()
    const box = section('Password')
    await user.type(within(box).getByLabelText('Current password'), ADA_PASSWORD)
    await user.type(within(box).getByLabelText('New password'), 'short')
    await user.click(within(box).getByRole('button', { name: 'Change password' }))
    expect((await within(box).findByRole('alert')).textContent).toBe('New password: Use at least 8 characters.')
    expect(server.calls('POST', '/v1/overseers/me/password')).toHaveLength(0)
  })
})

describe('Settings: e-mail', () => {
  it('asks for a link to the new address with the password', async () => {
    const { server, user } = setup()
    server.on('POST', '/v1/overseers/me/email', { status: 202, body: { message: 'sent', expires_at: '2026-05-03T10:00:00.000Z' } })
    const box = section('E-mail address')
    expect(await within(box).findByText(ada.email)).toBeTruthy()
    await user.type(within(box).getByLabelText('New e-mail address'), 'ada.new@example.com')
    await user.type(within(box).getByLabelText('Password'), ADA_PASSWORD)
    await user.click(within(box).getByRole('button', { name: 'Send confirmation link' }))
    expect((await within(box).findByRole('status')).textContent).toContain('We sent a link to ada.new@example.com')
    expect(server.calls('POST', '/v1/overseers/me/email')[0]!.body).toEqual({ new_email: 'ada.new@example.com', password: ADA_PASSWORD })
  })

  it('says when the address is taken', async () => {
    const { server, user } = setup()
    server.on('POST', '/v1/overseers/me/email', apiError(409, 'email_taken'))
    const box = section('E-mail address')
    await user.type(within(box).getByLabelText('New e-mail address'), 'bob@example.com')
    await user.type(within(box).getByLabelText('Password'), ADA_PASSWORD)
    await user.click(within(box).getByRole('button', { name: 'Send confirmation link' }))
    expect((await within(box).findByRole('alert')).textContent).toContain('already exists')
  })

  it('confirms the link once, and shows the new address', async () => {
    const token = 'tok_Zq9-abc'
    const accounts = accountServer({ signedIn: true })
    const updated = { ...ada, email: 'ada.new@example.com' }
    accounts.server.on('POST', '/v1/overseers/me/email/confirm', () => {
      accounts.server.on('GET', '/v1/overseers/me', ok({ overseer: { ...updated, subscription: freeSubscription } }))
      return ok({ overseer: updated })
    })
    render(
      <AuthProvider>
        <MemoryRouter initialEntries={[`/settings/email?token=${token}`]}>
          <Routes><Route path="/settings/email" element={<ConfirmEmailChange />} /></Routes>
        </MemoryRouter>
      </AuthProvider>,
    )
    expect(await screen.findByText('Your e-mail address is now ada.new@example.com.')).toBeTruthy()
    expect(accounts.server.calls('POST', '/v1/overseers/me/email/confirm')).toEqual([
      expect.objectContaining({ body: { token } }),
    ])
  })

  it('explains a used or expired link', async () => {
    const accounts = accountServer({ signedIn: true })
    accounts.server.on('POST', '/v1/overseers/me/email/confirm', apiError(400, 'token_invalid'))
    render(
      <AuthProvider>
        <MemoryRouter initialEntries={['/settings/email?token=used']}>
          <Routes><Route path="/settings/email" element={<ConfirmEmailChange />} /></Routes>
        </MemoryRouter>
      </AuthProvider>,
    )
    expect((await screen.findByRole('alert')).textContent).toContain('invalid, already used or expired')
  })
})

describe('Settings: sessions', () => {
  it('lists the sessions, marks this browser, and ends another one', async () => {
    const { server, user } = setup()
    server.on('DELETE', `/v1/overseers/me/sessions/${sessions[1]!.id}`, ok({ message: 'ended', current: false }))
    const box = section('Sessions')
    const list = await within(box).findByRole('list', { name: 'Active sessions' })
    const items = within(list).getAllByRole('listitem')
    expect(items).toHaveLength(2)
    expect(items[0]!.textContent).toContain('Firefox on Linux')
    expect(items[0]!.textContent).toContain('This browser')
    expect(within(items[0]!).queryByRole('button')).toBeNull()
    expect(items[1]!.textContent).toContain('Safari on iOS')
    server.on('GET', '/v1/overseers/me/sessions', ok({ sessions: [sessions[0]] }))
    await user.click(within(items[1]!).getByRole('button', { name: /^End session: Safari on iOS/ }))
    expect((await within(box).findByRole('status')).textContent).toBe('Signed out Safari on iOS.')
    expect(server.calls('DELETE', `/v1/overseers/me/sessions/${sessions[1]!.id}`)).toHaveLength(1)
    expect(within(list).getAllByRole('listitem')).toHaveLength(1)
  })

  it('ends all other sessions after a confirmation', async () => {
    const { server, user } = setup()
    server.on('DELETE', '/v1/overseers/me/sessions', ok({ message: 'ended', ended: 1 }))
    const box = section('Sessions')
    await user.click(await within(box).findByRole('button', { name: 'End all other sessions' }))
    expect(server.calls('DELETE', '/v1/overseers/me/sessions')).toHaveLength(0)
    await user.click(within(box).getByRole('button', { name: 'End them' }))
    expect((await within(box).findByRole('status')).textContent).toBe('1 other session was signed out.')
  })

  it('describes browsers briefly', () => {
    expect(describeAgent(null)).toBe('Unknown browser')
    expect(describeAgent('curl/8.5.0')).toBe('curl/8.5.0')
    expect(describeAgent('Mozilla/5.0 (Windows NT 10.0) Chrome/130.0 Safari/537.36 Edg/130.0')).toBe('Edge on Windows')
  })
})

describe('Settings: export and deletion', () => {
  it('links the export download', () => {
    setup()
    const link = within(section('Your data')).getByRole('link', { name: 'Download my data' })
    expect(link.getAttribute('href')).toBe('/v1/overseers/me/export')
    expect(link.hasAttribute('download')).toBe(true)
  })

  it('spells out the consequences and needs the box and the password before deleting', async () => {
    const { server, user } = setup()
    server.on('POST', '/v1/overseers/me/delete', ok({ message: 'Account deleted', agents_declaimed: 1, subscription_cancel_requested: true }))
    const box = section('Delete account')
    for (const what of ['declaims every agent', 'cancels your paid subscription', 'deletes your OAuth clients', 'signs out every session', 'erases your name, e-mail address']) {
      expect(box.textContent).toContain(what)
    }
    await user.type(within(box).getByLabelText('Password'), ADA_PASSWORD)
    await user.click(within(box).getByRole('button', { name: 'Delete my account' }))
    expect((await within(box).findByRole('alert')).textContent).toContain('Tick the box')
    expect(server.calls('POST', '/v1/overseers/me/delete')).toHaveLength(0)

    await user.click(within(box).getByLabelText(/I understand/))
    await user.click(within(box).getByRole('button', { name: 'Delete my account' }))
    expect(await screen.findByText('Home page (deleted)')).toBeTruthy()
    expect(server.calls('POST', '/v1/overseers/me/delete')[0]!.body).toEqual({ password: ADA_PASSWORD })
    expect(server.calls('POST', '/v1/overseers/logout')).toHaveLength(1)
  })

  it('keeps the account when the password is wrong', async () => {
    const { server, user } = setup()
    server.on('POST', '/v1/overseers/me/delete', apiError(403, 'wrong_password'))
    const box = section('Delete account')
    await user.click(within(box).getByLabelText(/I understand/))
    await user.type(within(box).getByLabelText('Password'), 'nope nope')
    await user.click(within(box).getByRole('button', { name: 'Delete my account' }))
    expect((await within(box).findByRole('alert')).textContent).toBe('That is not your current password.')
    expect(screen.queryByText(/Home page/)).toBeNull()
  })
})
