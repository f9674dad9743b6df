import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router'
import type { Resource } from '../api/types'
import { apiError, created, fakeServer, ok, sequence } from '../test/fakeServer'
import { Resources, wwwAuthenticate } from './Resources'

const LIST = '/v1/overseers/me/resources'
const ID = '7e000000-0000-4000-8000-000000000001'
const ONE = `${LIST}/${ID}`
const METADATA = `http://127.0.0.1:8787/v1/resources/${ID}/oauth-protected-resource`

const resource: Resource = {
  id: ID, uri: 'https://mcp.example.com/mcp', name: 'Example MCP',
  scopes: [{ name: 'tools:read', description: 'List tools' }, { name: 'tools:call', description: '' }],
  dpop_bound_access_tokens: false, access_token_alg: 'EdDSA', metadata_url: METADATA,
  created_at: '2026-03-01T00:00:00.000Z', updated_at: '2026-03-01T00:00:00.000Z',
}
const listed = (resources: Resource[], max = 3) => ok({ resources, count: resources.length, max_resources: max })

function setup () {
  render(<MemoryRouter><Resources /></MemoryRouter>)
  return userEvent.setup()
}

describe('Resources', () => {
  it('registers a resource with the scope rows, then shows its metadata URL and 401 header', async () => {
    const server = fakeServer()
      .on('GET', LIST, sequence(listed([]), listed([resource])))
      .on('POST', LIST, created({ resource }))
    const user = setup()
    expect(await screen.findByText('No resources yet.')).toBeTruthy()
    await user.type(screen.getByLabelText('Resource URI'), 'https://mcp.example.com/mcp')
    await user.type(screen.getByLabelText('Name'), 'Example MCP')
    await user.type(screen.getByLabelText('Scope 1 name'), 'tools:read')
    await user.type(screen.getByLabelText('Scope 1 description'), 'List tools')
    await user.click(screen.getByRole('button', { name: 'Add a scope' }))
    await user.type(screen.getByLabelText('Scope 2 name'), 'tools:call')
    await user.click(screen.getByRole('button', { name: 'Add a scope' }))
    await user.click(screen.getByRole('button', { name: 'Remove scope 3' }))
    await user.click(screen.getByRole('checkbox', { name: /DPoP-bound/ }))
    await user.selectOptions(screen.getByLabelText('Access-token signing algorithm'), 'ES256')
    await user.click(screen.getByRole('button', { name: 'Register resource' }))

    expect((await screen.findByTestId('metadata-url')).textContent).toBe(METADATA)
    expect(server.calls('POST', LIST)[0]!.body).toEqual({
      uri: 'https://mcp.example.com/mcp', name: 'Example MCP',
      scopes: [{ name: 'tools:read', description: 'List tools' }, { name: 'tools:call', description: '' }],
      dpop_bound_access_tokens: true, access_token_alg: 'ES256',
    })
    expect(screen.getByText(wwwAuthenticate(METADATA))).toBeTruthy()
    expect(wwwAuthenticate(METADATA)).toBe(`WWW-Authenticate: Bearer resource_metadata="${METADATA}"`)
    expect(screen.getByRole('button', { name: `Copy metadata URL: ${METADATA}` })).toBeTruthy()
    expect((screen.getByLabelText('Resource URI') as HTMLInputElement).value).toBe('')
  })

  it('refuses an unnamed scope row before sending anything', async () => {
    const server = fakeServer().on('GET', LIST, listed([]))
    const user = setup()
    await screen.findByText('No resources yet.')
    await user.type(screen.getByLabelText('Resource URI'), 'https://mcp.example.com/mcp')
    await user.type(screen.getByLabelText('Name'), 'Example MCP')
    await user.click(screen.getByRole('button', { name: 'Register resource' }))
    expect((await screen.findByRole('alert')).textContent).toBe('Give every scope a name, or remove the empty row.')
    expect(server.calls('POST', LIST)).toHaveLength(0)
  })

  it('says why the server refused a registration', async () => {
    fakeServer()
      .on('GET', LIST, listed([]))
      .on('POST', LIST, apiError(409, 'resource_exists'))
    const user = setup()
    await screen.findByText('No resources yet.')
    await user.type(screen.getByLabelText('Resource URI'), 'https://mcp.example.com/mcp')
    await user.type(screen.getByLabelText('Name'), 'Example MCP')
    await user.type(screen.getByLabelText('Scope 1 name'), 'x')
    await user.click(screen.getByRole('button', { name: 'Register resource' }))
    expect((await screen.findByRole('alert')).textContent).toBe('A resource with this URI is already registered.')
  })

  it('shows the limit and disables registration when it is reached', async () => {
    fakeServer().on('GET', LIST, listed([resource], 1))
    setup()
    expect((await screen.findByTestId('usage-Protected resources')).textContent).toBe('1 / 1')
    expect(screen.getByText(/resource limit is reached/)).toBeTruthy()
    expect((screen.getByRole('button', { name: 'Register resource' }) as HTMLButtonElement).disabled).toBe(true)
  })

  it('edits a resource without sending its URI, and deletes it after confirmation', async () => {
    const renamed = { ...resource, name: 'Renamed', scopes: [{ name: 'tools:read', description: 'List tools' }] }
    const server = fakeServer()
      .on('GET', LIST, sequence(listed([resource]), listed([renamed]), listed([])))
      .on('PATCH', ONE, ok({ resource: renamed }))
      .on('DELETE', ONE, ok({ message: 'Resource deleted' }))
    const user = setup()
    const card = within((await screen.findByRole('heading', { name: 'Example MCP' })).closest('li')!)
    await user.click(card.getByRole('button', { name: 'Edit' }))
    const form = within(screen.getByRole('form', { name: 'Edit Example MCP' }))
    await user.clear(form.getByLabelText('Name'))
    await user.type(form.getByLabelText('Name'), 'Renamed')
    await user.click(form.getByRole('button', { name: 'Remove scope 2' }))
    await user.click(form.getByRole('button', { name: 'Save changes' }))
    await screen.findByRole('heading', { name: 'Renamed' })
    expect(server.calls('PATCH', ONE)[0]!.body).toEqual({
      name: 'Renamed', scopes: [{ name: 'tools:read', description: 'List tools' }],
      dpop_bound_access_tokens: false, access_token_alg: 'EdDSA',
    })

    await user.click(screen.getByRole('button', { name: 'Delete' }))
    expect(server.calls('DELETE', ONE)).toHaveLength(0)
    await user.click(screen.getByRole('button', { name: 'Yes, delete' }))
    expect(await screen.findByText('No resources yet.')).toBeTruthy()
    expect(server.calls('DELETE', ONE)).toHaveLength(1)
  })
})
