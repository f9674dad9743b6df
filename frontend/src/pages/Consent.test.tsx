import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter, Route, Routes } from 'react-router'
import type { ConsentAgent, ConsentRequest } from '../api/types'
import { leave } from '../lib/leave'
import { fakeServer, ok, type Reply } from '../test/fakeServer'
import { Consent, decisionBody } from './Consent'

const CLIENT = 'https://mcp-host.example/oauth/client.json'
const QUERY = `response_type=code&client_id=${encodeURIComponent(CLIENT)}` +
  '&redirect_uri=https%3A%2F%2Fmcp-host.example%2Fcb&code_challenge=abc&code_challenge_method=S256' +
  '&scope=id%20name&state=s1&resource=https%3A%2F%2Fmcp.example.com%2Fmcp'
const DESCRIBE = `/v1/oauth/consent?${QUERY}`

const agent = (n: number, name: string, over: Partial<ConsentAgent> = {}): ConsentAgent => ({
  id: `6f1c2b9e-4444-4000-8000-00000000000${n}`, name, overseer_consent: true, blocked: false,
  limit_reached: false, eligible: true, reason: null, ...over,
})
const helper = agent(1, 'Helper')
const locked = agent(2, 'Locked', { overseer_consent: false, eligible: false, reason: 'overseer_consent_forbidden' })
const blocked = agent(3, 'Blocked', { blocked: true, eligible: false, reason: 'client_blocked' })

const described: ConsentRequest = {
  client: { client_id: CLIENT, name: 'MCP Host', url_host: 'mcp-host.example' },
  redirect_uri: 'https://mcp-host.example/cb',
  redirect_host: 'mcp-host.example',
  scopes: [{ name: 'id', description: "The agent's identifier" }, { name: 'name', description: "The agent's name" }],
  resources: [{ uri: 'https://mcp.example.com/mcp', name: 'Example MCP' }],
  state: 's1',
  agents: [helper, locked, blocked],
}

/** An OAuth endpoint's error body (RFC 6749 §5.2). */
const oauthError = (status: number, error: string, description: string): Reply =>
  ({ status, body: { error, error_description: description } })

function renderPage () {
  render(
    <MemoryRouter initialEntries={[`/consent?${QUERY}`]}>
      <Routes><Route path="/consent" element={<Consent />} /></Routes>
    </MemoryRouter>,
  )
}

describe('Consent', () => {
  it('shows who asks (the metadata URL host big), for what, where the browser goes and which agents can be chosen', async () => {
    fakeServer().on('GET', DESCRIBE, ok(described))
    renderPage()
    expect(await screen.findByRole('heading', { level: 1, name: 'Authorize MCP Host' })).toBeTruthy()
    expect(screen.getByTestId('client-host').textContent).toBe('mcp-host.example')
    expect(screen.getByText(CLIENT)).toBeTruthy()
    expect(screen.getByText('Example MCP')).toBeTruthy()
    expect(screen.getByText(": The agent's identifier")).toBeTruthy()
    expect(screen.getByTestId('redirect-host').textContent).toBe('mcp-host.example')
    const helperRadio = screen.getByRole('radio', { name: 'Helper' }) as HTMLInputElement
    expect(helperRadio.disabled).toBe(false)
    const lockedRadio = screen.getByRole('radio', { name: 'Locked' }) as HTMLInputElement
    expect(lockedRadio.disabled).toBe(true)
    expect(lockedRadio.getAttribute('aria-describedby')).toBeTruthy()
    expect(screen.getByText(/does not allow you to consent in its name/)).toBeTruthy()
    expect((screen.getByRole('radio', { name: 'Blocked' }) as HTMLInputElement).disabled).toBe(true)
    // Nothing is decided before an agent is chosen.
    expect((screen.getByRole('button', { name: 'Approve' }) as HTMLButtonElement).disabled).toBe(true)
    expect((screen.getByRole('button', { name: 'Deny' }) as HTMLButtonElement).disabled).toBe(true)
  })

  it('approves for the chosen agent and sends the browser to the redirect the server names', async () => {
    const to = 'https://mcp-host.example/cb?code=c0de&state=s1&iss=https%3A%2F%2Fid.example'
    const server = fakeServer()
      .on('GET', DESCRIBE, ok(described))
      .on('POST', '/v1/oauth/consent', ok({ redirect_to: to }))
    const went = vi.spyOn(leave, 'to').mockImplementation(() => {})
    renderPage()
    const user = userEvent.setup()
    await user.click(await screen.findByRole('radio', { name: 'Helper' }))
    await user.click(screen.getByRole('button', { name: 'Approve' }))
    expect(server.calls('POST', '/v1/oauth/consent').map((r) => r.body)).toEqual([{
      response_type: 'code', client_id: CLIENT, redirect_uri: 'https://mcp-host.example/cb', code_challenge: 'abc',
      code_challenge_method: 'S256', scope: 'id name', state: 's1', resource: 'https://mcp.example.com/mcp',
      agent_id: helper.id, decision: 'approve',
    }])
    expect(server.calls('POST', '/v1/oauth/consent')[0]!.credentials).toBe('same-origin')
    expect(went).toHaveBeenCalledWith(to)
  })

  it('denies, and the browser goes back to the app with its error', async () => {
    const to = 'https://mcp-host.example/cb?error=access_denied&state=s1'
    const server = fakeServer()
      .on('GET', DESCRIBE, ok(described))
      .on('POST', '/v1/oauth/consent', ok({ redirect_to: to }))
    const went = vi.spyOn(leave, 'to').mockImplementation(() => {})
    renderPage()
    const user = userEvent.setup()
    await user.click(await screen.findByRole('radio', { name: 'Helper' }))
    await user.click(screen.getByRole('button', { name: 'Deny' }))
    expect((server.calls('POST', '/v1/oauth/consent')[0]!.body as { decision: string }).decision).toBe('deny')
    expect(went).toHaveBeenCalledWith(to)
  })

  it('shows a refusal and stays on the page', async () => {
    fakeServer()
      .on('GET', DESCRIBE, ok(described))
      .on('POST', '/v1/oauth/consent', oauthError(403, 'access_denied', "the agent's overseer has blocked this client"))
    const went = vi.spyOn(leave, 'to').mockImplementation(() => {})
    renderPage()
    const user = userEvent.setup()
    await user.click(await screen.findByRole('radio', { name: 'Helper' }))
    await user.click(screen.getByRole('button', { name: 'Approve' }))
    expect((await screen.findByRole('alert')).textContent).toBe("the agent's overseer has blocked this client")
    expect(went).not.toHaveBeenCalled()
  })

  it('explains a request the server refuses', async () => {
    fakeServer().on('GET', DESCRIBE, oauthError(400, 'invalid_request', 'redirect_uri is missing or not registered for this client'))
    renderPage()
    expect((await screen.findByRole('alert')).textContent).toBe('redirect_uri is missing or not registered for this client')
    expect(screen.queryByRole('button', { name: 'Approve' })).toBeNull()
  })

  it('says so when no agent can be chosen', async () => {
    fakeServer().on('GET', DESCRIBE, ok({ ...described, agents: [locked] }))
    renderPage()
    expect(await screen.findByText('None of your agents can be used for this app now.')).toBeTruthy()
  })
})

describe('decisionBody', () => {
  it('repeats the request, a repeated resource as a list, and nothing that was not sent', () => {
    expect(decisionBody('client_id=c&redirect_uri=r&resource=a&resource=b', 'ag', 'deny')).toEqual({
      client_id: 'c', redirect_uri: 'r', resource: ['a', 'b'], agent_id: 'ag', decision: 'deny',
    })
  })
})
