// Wire types of the agent-id v1 API (shared/spec/api.md §1.6 objects, §2 endpoints). Only the
// fields the console reads are listed; the server may send more.

/** RFC 3339 UTC timestamp with milliseconds, e.g. `2026-01-01T00:05:00.000Z`. */
export type Timestamp = string

/** `-1` means unlimited in every `max_*` field. */
export type Limit = number

export interface Overseer {
  id: string
  name: string
  email: string
  created_at: Timestamp
  updated_at: Timestamp
}

export type SubscriptionStatus = 'free' | 'active' | 'trialing' | 'past_due' | 'paused' | 'canceled'

export interface Subscription {
  id: string | null
  tier: string
  status: SubscriptionStatus
  is_active: boolean
  is_free_tier: boolean
  max_agents: Limit
  max_clients: Limit
  max_oauth_per_period: Limit
  billing_period_start: Timestamp | null
  billing_period_end: Timestamp | null
  next_billed_at: Timestamp | null
  grace_period_end: Timestamp | null
  will_renew: boolean
  scheduled_cancel_at: Timestamp | null
}

export interface Usage {
  agents_claimed: number
  clients_registered: number
  oauth_count: number
  max_agents: Limit
  max_clients: Limit
  max_oauth_per_period: Limit
  period_start: Timestamp
  period_end: Timestamp
  /** Protected resources (issue 10). */
  resources_registered: number
  max_resources: Limit
}

export interface Tier {
  tier: string
  price: number
  currency: string
  billing: string
  max_agents: Limit
  max_clients: Limit
  max_oauth_per_period: Limit
  oauth_period: string
  /** Protected resources an overseer on this tier may register (issue 10). */
  max_resources: Limit
}

/** Public checkout configuration returned beside the tiers (null token = billing not configured). */
export interface BillingConfig {
  configured: boolean
  paddle_environment: 'sandbox' | 'production'
  paddle_client_token: string | null
}

export interface OverseenAgent {
  id: string
  name: string
  description: string | null
  public_key: string
  created_at: Timestamp
  claimed_at: Timestamp
  marked_for_cancellation: boolean
  oauth_count: number
  clients_registered: number
}

export interface BlockedClient {
  client_id: string
  client_name: string
  created_at: Timestamp
}

export interface Client {
  id: string
  name: string
  redirect_uris: string[]
  scope: string | null
  /** Null for a public client (`token_endpoint_auth_method: 'none'`). */
  public_key: string | null
  token_endpoint_auth_method: string
  application_type: 'web' | 'native'
  dpop_bound_access_tokens: boolean
  owner_type: 'agent' | 'overseer'
  owner_id: string
  disabled: boolean
  disabled_at: Timestamp | null
  disabled_reason: 'tier_limit' | 'subscription_paused' | null
  marked_for_cancellation: boolean
  created_at: Timestamp
  updated_at: Timestamp
}

export interface AuditEvent {
  id: string
  type: string
  actor_type: string
  actor_id: string | null
  subject_type: string | null
  subject_id: string | null
  details: Record<string, unknown> | null
  ip: string | null
  created_at: Timestamp
}

export interface ClaimChallenge {
  challenge_id: string
  complete_url: string
  overseer_id: string
  agent_id: string
  expires_at: Timestamp
  expires_in: number
}

export type ClaimStatus = 'pending' | 'completed' | 'expired'

/** Signed checkout `customData` (api.md 7.3): passed to Paddle unchanged. */
export type CustomData = Record<string, unknown>

export interface Checkout {
  tier: string
  price: number
  currency: string
  price_id: string
  customer_email: string | null
  customer_id: string | null
  custom_data: CustomData
  paddle_environment: 'sandbox' | 'production'
  paddle_client_token: string
}

export interface ShadowChallenge {
  challenge_id: string
  shadow_overseer_id: string
  agent_id: string
  expires_at: Timestamp
  expires_in: number
  complete_url: string
}

export type ShadowStatusValue = 'initiated' | 'awaiting-payment' | 'completed' | 'expired'

export interface ShadowStatus {
  challenge_id: string
  status: ShadowStatusValue
  agent_id?: string
  agent_name?: string
  shadow_overseer_id?: string
  expires_at?: Timestamp
  paddle_price_id?: string
  price?: number
  currency?: string
  capabilities?: { max_clients: Limit; max_oauth_per_period: Limit; validity_days: number }
  custom_data?: CustomData
  paddle_environment?: 'sandbox' | 'production'
  paddle_client_token?: string | null
}

// --- Mail (issue 12): e-mail verification and password reset ---

/** The verification state `GET /v1/overseers/me` adds to the overseer. */
export interface EmailVerification {
  email: string
  email_verified: boolean
  email_verified_at: Timestamp | null
}

// --- Billing portal and payment failures (issue 12) ---------------------------------------

/** A failing payment of the subscription; the tier stays in force meanwhile. */
export interface PaymentProblem {
  kind: 'payment_failed' | 'past_due'
  since: Timestamp
}

/** Adds to `Subscription` above (declaration merging): present only while a payment fails. */
export interface Subscription {
  payment_problem?: PaymentProblem
}

/** `POST /v1/subscriptions/portal`: Paddle customer-portal links, signed in; never stored. */
export interface BillingPortal {
  url: string
  subscriptions: Array<{ id: string, cancel_url: string, update_payment_method_url: string }>
}

// Live grants (issue 12): an agent's grants to OAuth clients, as its overseer lists them.

/** A grant an agent gave an OAuth client, live while its refresh family is alive. */
export interface LiveGrant {
  id: string
  client: { id: string, name: string }
  /** Space-separated granted scopes. */
  scopes: string
  /** Resource indicators the grant is limited to; null until grants carry resources. */
  resources: string[] | null
  consented_at: Timestamp
  consented_by: 'agent' | 'overseer'
  /** The last token issuance (code exchange or refresh). */
  last_used_at: Timestamp
}

export interface LiveGrantList {
  agent_id: string
  grants: LiveGrant[]
  next_cursor: string | null
}

// --- Account settings (issue 12): sessions, e-mail change, export, deletion ---

/** A session of the signed-in overseer (never its token). */
export interface AccountSession {
  id: string
  created_at: Timestamp
  expires_at: Timestamp
  user_agent: string | null
  ip: string | null
  /** The session of this browser. */
  current: boolean
}

export interface AccountDeleted {
  message: string
  agents_declaimed: number
  subscription_cancel_requested: boolean
}

// --- public clients (issue 10, slice `public`) ---

/** A public client's registration: no key; PKCE and a DPoP proof protect its tokens. */
export interface PublicClientRegistration {
  name: string
  redirect_uris: string[]
  scope?: string
  /** `native`: loopback redirect URIs on 127.0.0.1 or [::1] match any port. */
  application_type: 'web' | 'native'
}

// --- Protected resources (issue 10, slice res) ---

export interface ResourceScope {
  name: string
  description: string
}

/** A protected resource (docs/resources.md): an API or MCP server the overseer runs. */
export interface Resource {
  id: string
  /** Canonical resource identifier: the `aud` of tokens for it; immutable. */
  uri: string
  name: string
  scopes: ResourceScope[]
  dpop_bound_access_tokens: boolean
  access_token_alg: 'EdDSA' | 'ES256'
  /** The RFC 9728 document agent-id serves for it. */
  metadata_url: string
  created_at: Timestamp
  updated_at: Timestamp
}

/** What registration and update send (the `uri` only at registration). */
export interface ResourceInput {
  name: string
  scopes: ResourceScope[]
  dpop_bound_access_tokens: boolean
  access_token_alg: 'EdDSA' | 'ES256'
}

// --- Consent by the overseer (issue 10, consent) ---

/** One of the overseer's agents, as the consent page offers it. */
export interface ConsentAgent {
  id: string
  name: string
  /** The agent allows its overseer to consent in its name (the agent's own setting). */
  overseer_consent: boolean
  /** The overseer blocked this client for the agent. */
  blocked: boolean
  /** The agent's monthly authorization limit is reached. */
  limit_reached: boolean
  eligible: boolean
  reason: 'overseer_consent_forbidden' | 'client_blocked' | 'oauth_limit_reached' | null
}

/** `GET /v1/oauth/consent`: who asks, for what, and for which agents. */
export interface ConsentRequest {
  client: {
    client_id: string
    name: string
    /** The host of `client_id` when the client is identified by its metadata document's URL. */
    url_host: string | null
  }
  redirect_uri: string
  redirect_host: string
  scopes: Array<{ name: string, description: string }>
  /** Requested resources: the registered name, or null when none is registered at that URI. */
  resources: Array<{ uri: string, name: string | null }>
  state: string | null
  agents: ConsentAgent[]
}

/** `POST /v1/oauth/consent`: the authorization request's parameters, the agent and the decision. */
export interface ConsentDecision {
  [param: string]: string | string[]
  agent_id: string
  decision: 'approve' | 'deny'
}
