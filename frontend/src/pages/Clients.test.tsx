import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { vi } from 'vitest'
import type { Client } from '../api/types'
import { created, fakeServer } from '../test/fakeServer'
import { ClientCard, RegisterClient } from './Clients'

const REGISTER = '/v1/clients/register/overseer'
const publicClient: Client = {
  id: 'c1000000-0000-4000-8000-000000000001', name: 'CLI', redirect_uris: ['http://127.0.0.1/cb'],
  scope: null, public_key: null, token_endpoint_auth_method: 'none', application_type: 'native',
  dpop_bound_access_tokens: false, owner_type: 'overseer', owner_id: 'o1', disabled: false,
  disabled_at: null, disabled_reason: null, marked_for_cancellation: false,
  created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z',
}

describe('RegisterClient', () => {
  it('registers a public native client without a key', async () => {
    const server = fakeServer().on('POST', REGISTER, created({ client: publicClient, message: 'ok' }))
    const onRegistered = vi.fn(async () => {})
    render(<RegisterClient room canGenerate onRegistered={onRegistered} />)
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Client name'), 'CLI')
    await user.type(screen.getByLabelText('Redirect URIs (one per line)'), 'http://127.0.0.1/cb')
    const auth = screen.getByRole('group', { name: 'Client authentication' })
    await user.click(within(auth).getByRole('radio', { name: /^Public/ }))
    // No key to generate or paste, and the native choice (on by default) is offered.
    expect(screen.queryByRole('group', { name: 'Public key' })).toBeNull()
    expect((screen.getByRole('checkbox', { name: /Native app/ }) as HTMLInputElement).checked).toBe(true)
    await user.click(screen.getByRole('button', { name: 'Register client' }))
    expect(server.calls('POST', REGISTER).map((r) => r.body)).toEqual([{
      name: 'CLI', redirect_uris: ['http://127.0.0.1/cb'], scope: 'id name description pub_key subscription',
      application_type: 'native', token_endpoint_auth_method: 'none',
    }])
    expect(onRegistered).toHaveBeenCalledWith(publicClient, null)
  })

  it('keeps the key choice for confidential clients, the default', () => {
    fakeServer()
    render(<RegisterClient room canGenerate onRegistered={async () => {}} />)
    const auth = screen.getByRole('group', { name: 'Client authentication' })
    expect((within(auth).getByRole('radio', { name: /^Confidential/ }) as HTMLInputElement).checked).toBe(true)
    expect(screen.getByRole('group', { name: 'Public key' })).toBeTruthy()
  })
})

describe('ClientCard', () => {
  it('shows a public client as such, with nothing to re-key', () => {
    fakeServer()
    render(<ClientCard client={publicClient} canGenerate onChange={async () => {}} onNewKey={() => {}} />)
    expect(screen.getByText('none (public client)')).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Re-key' })).toBeNull()
  })
})
