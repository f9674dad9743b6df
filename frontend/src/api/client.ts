// The console's only way to the API: same-origin fetch with the session cookie (never a token in
// script-readable storage). Errors become `ApiError` with the server's machine-readable code.
import type {
  AccountDeleted, AccountSession, AuditEvent, BillingConfig, BlockedClient, Checkout, ClaimChallenge,
  ClaimStatus, Client, LiveGrantList, Overseer, OverseenAgent, ShadowChallenge, ShadowStatus,
  Subscription, Tier, Usage,
} from './types'
import type { EmailVerification } from './types'
import type { BillingPortal } from './types'
import type { PublicClientRegistration } from './types'
import type { Resource, ResourceInput } from './types'
import type { ConsentDecision, ConsentRequest } from './types'

/** A failed API call: HTTP status plus the `code` of the error body (api.md 1.5). */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly retryAfter: number | null

  constructor (status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.retryAfter = retryAfter
  }
}

/** Called on every 401 of an authenticated call, so the auth state can drop a dead session. */
let onUnauthorized: (() => void) | null = null
export function setUnauthorizedHandler (handler: (() => void) | null): void {
  onUnauthorized = handler
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

async function request<T> (method: Method, path: string, body?: unknown, opts: { anonymous?: boolean } = {}): Promise<T> {
  const init: RequestInit = {
    method,
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
    cache: 'no-store',
  }
  if (body !== undefined) {
    init.headers = { ...init.headers, 'content-type': 'application/json' }
    init.body = JSON.stringify(body)
  }
  let response: Response
  try {
    response = await fetch(path, init)
  } catch {
    throw new ApiError(0, 'network_error', 'The server could not be reached. Check your connection and try again.')
  }
  let data: unknown = null
  try {
    data = await response.json()
  } catch {
    // Non-JSON bodies (a proxy's error page) are reported by status below.
  }
  if (!response.ok) {
    const err = (data ?? {}) as { code?: unknown, error?: unknown, error_description?: unknown }
    const retry = Number(response.headers.get('retry-after'))
    // OAuth endpoints (RFC 6749 §5.2) name the code in `error` and explain in `error_description`.
    const oauth = typeof err.error_description === 'string' && typeof err.error === 'string'
    const apiError = new ApiError(
      response.status,
      oauth ? err.error as string : typeof err.code === 'string' ? err.code : `http_${response.status}`,
      oauth ? err.error_description as string : typeof err.error === 'string' ? err.error : `Request failed (HTTP ${response.status})`,
      Number.isFinite(retry) && retry > 0 ? retry : null,
    )
    if (response.status === 401 && !opts.anonymous) onUnauthorized?.()
    throw apiError
  }
  return data as T
}

const enc = encodeURIComponent

export interface SessionBody { overseer: Overseer, expires_in: number }

export const api = {
  // Overseer account (api.md 2.6). Sign-up and log-in are anonymous: a 401 there is "wrong
  // credentials", not an expired session.
  register: (name: string, email: string, password: string) =>
    request<SessionBody>('POST', '/v1/overseers/register', { name, email, password }, { anonymous: true }),
  login: (email: string, password: string) =>
    request<SessionBody>('POST', '/v1/overseers/login', { email, password }, { anonymous: true }),
  logout: () => request<{ message: string }>('POST', '/v1/overseers/logout', undefined, { anonymous: true }),
  me: () => request<{ overseer: Overseer & { subscription: Subscription } }>('GET', '/v1/overseers/me', undefined, { anonymous: true }),
  audit: (cursor: string | null, limit = 20) =>
    request<{ events: AuditEvent[], next_cursor: string | null }>(
      'GET', `/v1/overseers/me/audit?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`),

  // Agents and claims (2.4, 2.7).
  agents: (overseerId: string) =>
    request<{ agents: OverseenAgent[], count: number, max_agents: number }>('GET', `/v1/overseers/${enc(overseerId)}/agents`),
  claimInitiate: (agentId: string) => request<ClaimChallenge>('POST', '/v1/agents/claim/initiate', { agent_id: agentId }),
  claimStatus: (challengeId: string) =>
    request<{ challenge_id: string, agent_id: string, status: ClaimStatus, expires_at: string }>(
      'GET', `/v1/agents/claim/status/${enc(challengeId)}`),
  declaim: (agentId: string) => request<{ message: string }>('POST', `/v1/agents/declaim/${enc(agentId)}`),
  markCancellation: (overseerId: string, agentId: string, marked: boolean) =>
    request<{ marked_for_cancellation: boolean }>('PUT', `/v1/overseers/${enc(overseerId)}/agents/${enc(agentId)}/cancellation`, { marked }),
  blockedClients: (agentId: string) =>
    request<{ blocked_clients: BlockedClient[] }>('GET', `/v1/overseers/agents/${enc(agentId)}/blocked-clients`),
  blockClient: (agentId: string, clientId: string) =>
    request<{ block: BlockedClient }>('POST', `/v1/overseers/agents/${enc(agentId)}/block-client`, { client_id: clientId }),
  unblockClient: (agentId: string, clientId: string) =>
    request<{ message: string }>('DELETE', `/v1/overseers/agents/${enc(agentId)}/block-client/${enc(clientId)}`),

  // OAuth clients (2.8): the overseer's own clients, and its whole pool for the limit.
  clients: () => request<{ clients: Client[] }>('GET', '/v1/clients/list/overseer'),
  clientPool: (overseerId: string) =>
    request<{ clients: Client[], count_enabled: number, max_clients: number }>('GET', `/v1/overseers/${enc(overseerId)}/clients`),
  registerClient: (input: { name: string, redirect_uris: string[], public_key: string, scope?: string, dpop_bound_access_tokens: boolean }) =>
    request<{ client: Client }>('POST', '/v1/clients/register/overseer', { ...input, token_endpoint_auth_method: 'private_key_jwt' }),
  rekeyClient: (clientId: string, publicKey: string) =>
    request<{ message: string }>('PUT', `/v1/clients/${enc(clientId)}/key`, { public_key: publicKey }),
  deleteClient: (clientId: string) => request<{ message: string }>('DELETE', `/v1/clients/${enc(clientId)}`),
  enableClient: (clientId: string) => request<{ client: Client }>('PUT', `/v1/clients/${enc(clientId)}/enable`),

  // Subscriptions (2.9).
  tiers: () => request<{ tiers: Tier[], billing?: BillingConfig }>('GET', '/v1/subscriptions/tiers', undefined, { anonymous: true }),
  subscription: () => request<{ subscription: Subscription }>('GET', '/v1/subscriptions/me'),
  usage: () => request<{ usage: Usage }>('GET', '/v1/subscriptions/usage'),
  upgrade: (tier: string) => request<Checkout>('POST', '/v1/subscriptions/upgrade', { target_tier: tier }),
  cancel: () => request<{ billing_period_end: string, scheduled_cancel_at: string }>('POST', '/v1/subscriptions/cancel'),

  // Account settings (issue 12): password, e-mail change, sessions, export, deletion.
  changePassword: (currentPassword: string, newPassword: string) =>
    request<{ message: string, sessions_ended: number }>('POST', '/v1/overseers/me/password',
      { current_password: currentPassword, new_password: newPassword }),
  requestEmailChange: (newEmail: string, password: string) =>
    request<{ message: string, expires_at: string }>('POST', '/v1/overseers/me/email', { new_email: newEmail, password }),
  confirmEmailChange: (token: string) =>
    request<{ overseer: Overseer }>('POST', '/v1/overseers/me/email/confirm', { token }),
  sessions: () => request<{ sessions: AccountSession[] }>('GET', '/v1/overseers/me/sessions'),
  endSession: (sessionId: string) =>
    request<{ message: string, current: boolean }>('DELETE', `/v1/overseers/me/sessions/${enc(sessionId)}`),
  endOtherSessions: () => request<{ message: string, ended: number }>('DELETE', '/v1/overseers/me/sessions'),
  /** A same-origin link: the browser downloads the attachment with the session cookie. */
  exportUrl: '/v1/overseers/me/export',
  deleteAccount: (password: string) => request<AccountDeleted>('POST', '/v1/overseers/me/delete', { password }),

  // Shadow claims (2.5): anonymous.
  maliceInitiate: (agentId: string) =>
    request<ShadowChallenge>('POST', `/v1/agents/malice/${enc(agentId)}`, undefined, { anonymous: true }),
  maliceStatus: (challengeId: string) =>
    request<ShadowStatus>('GET', `/v1/agents/malice/status/${enc(challengeId)}`, undefined, { anonymous: true }),

  // Billing portal and payment failures (issue 12).
  portal: () => request<BillingPortal>('POST', '/v1/subscriptions/portal'),

  // Live grants (issue 12): an overseen agent's grants, and revoking one.
  myAgents: () => request<{ agents: OverseenAgent[] }>('GET', '/v1/overseers/me/agents'),
  agentGrants: (agentId: string, cursor: string | null = null, limit = 100) =>
    request<LiveGrantList>(
      'GET', `/v1/overseers/agents/${enc(agentId)}/grants?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`),
  revokeGrant: (agentId: string, grantId: string) =>
    request<{ message: string, grant_id: string }>('DELETE', `/v1/overseers/agents/${enc(agentId)}/grants/${enc(grantId)}`),

  // --- public clients (issue 10, slice `public`) ---
  /** Registers a public client (`token_endpoint_auth_method: none`): no key. */
  registerPublicClient: (input: PublicClientRegistration) =>
    request<{ client: Client }>('POST', '/v1/clients/register/overseer', { ...input, token_endpoint_auth_method: 'none' }),
}

// --- Consent by the overseer (issue 10, consent) ---
export const consentApi = {
  /** What the consent page shows for an authorization request (`query`: its query string, no `?`). */
  describe: (query: string) => request<ConsentRequest>('GET', `/v1/oauth/consent?${query}`),
  /** The overseer's decision; the page then sends the browser to `redirect_to`. */
  decide: (decision: ConsentDecision) => request<{ redirect_to: string }>('POST', '/v1/oauth/consent', decision),
}

// --- Mail (issue 12): e-mail verification and password reset ---
export const mailApi = {
  /** The session's address and whether it is verified (fields of `GET /v1/overseers/me`). */
  verification: () => request<{ overseer: EmailVerification }>('GET', '/v1/overseers/me'),
  /** Sends a new verification link to the session's address. */
  resendVerification: () => request<{ message: string }>('POST', '/v1/overseers/email-verification'),
  /** Completes verification with the token of the e-mailed link (no session needed). */
  verify: (token: string) =>
    request<{ email_verified: boolean, email_verified_at: string }>(
      'POST', '/v1/overseers/email-verification/complete', { token }, { anonymous: true }),
  /** Asks for a reset link; the answer is the same whether or not the address has an account. */
  requestReset: (email: string) =>
    request<{ message: string }>('POST', '/v1/overseers/password-reset', { email }, { anonymous: true }),
  /** Sets a new password with the token of the e-mailed link; every session ends. */
  completeReset: (token: string, password: string) =>
    request<{ message: string }>('POST', '/v1/overseers/password-reset/complete', { token, password }, { anonymous: true }),
}

// --- Protected resources (issue 10, slice res): docs/resources.md ---
export const resourcesApi = {
  list: () => request<{ resources: Resource[], count: number, max_resources: number }>('GET', '/v1/overseers/me/resources'),
  register: (input: ResourceInput & { uri: string }) =>
    request<{ resource: Resource }>('POST', '/v1/overseers/me/resources', input),
  update: (id: string, input: ResourceInput) =>
    request<{ resource: Resource }>('PATCH', `/v1/overseers/me/resources/${enc(id)}`, input),
  remove: (id: string) => request<{ message: string }>('DELETE', `/v1/overseers/me/resources/${enc(id)}`),
}
