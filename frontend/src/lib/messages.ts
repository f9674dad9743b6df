import { ApiError } from '../api/client'

// Human wording for the API's machine-readable codes the console meets (api.md 1.5.2); anything
// else shows the server's own message.
const MESSAGES: Record<string, string> = {
  invalid_credentials: 'Wrong e-mail or password.',
  email_taken: 'An account with this e-mail already exists. Log in instead.',
  password_too_short: 'The password is too short: use at least 8 characters.',
  password_too_long: 'The password is too long: at most 72 bytes.',
  invalid_email: 'That does not look like an e-mail address.',
  tier_limit_reached: 'Your tier does not allow more. Upgrade on the Subscription page.',
  already_claimed: 'This agent already has an overseer.',
  agent_not_found: 'No agent with this id.',
  grant_not_found: 'This grant has already ended.',
  network_error: 'The server could not be reached. Check your connection and try again.',
  configuration_error: 'This feature is not configured on this server.',
  token_invalid: 'This link is invalid, already used or expired. Ask for a new one.',
  email_not_verified: 'Verify your e-mail address first: use the link we sent you (or send a new one from the dashboard).',
  email_already_verified: 'Your e-mail address is already verified.',
  // Account settings (issue 12)
  wrong_password: 'That is not your current password.',
  session_not_found: 'That session has already ended.',
  // Protected resources (issue 10)
  resource_exists: 'A resource with this URI is already registered.',
  resource_not_found: 'This resource no longer exists.',
}

export function errorMessage (e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 'rate_limited') {
      return e.retryAfter ? `Too many attempts. Try again in ${e.retryAfter} seconds.` : 'Too many attempts. Try again shortly.'
    }
    return MESSAGES[e.code] ?? e.message
  }
  return e instanceof Error ? e.message : 'Something went wrong.'
}
