// A shadow claim is started once per page visit and agent: React may render (and, in StrictMode,
// run effects) twice, and a reload should keep the challenge the sponsor already gave the agent.
import { api } from '../api/client'
import type { ShadowChallenge } from '../api/types'

const inflight = new Map<string, Promise<ShadowChallenge>>()
const storageKey = (agentId: string) => `agent-id:shadow:${agentId}`

function stored (agentId: string, now: number): ShadowChallenge | null {
  try {
    const raw = sessionStorage.getItem(storageKey(agentId))
    if (!raw) return null
    const c = JSON.parse(raw) as ShadowChallenge
    return c.agent_id === agentId && Date.parse(c.expires_at) > now ? c : null
  } catch {
    return null
  }
}

/** The live challenge for `agentId`: the stored one, the one being created, or a new one. */
export function startShadowClaim (agentId: string, now = Date.now()): Promise<ShadowChallenge> {
  const known = stored(agentId, now)
  if (known) return Promise.resolve(known)
  const pending = inflight.get(agentId)
  if (pending) return pending
  const p = api.maliceInitiate(agentId).then((c) => {
    try { sessionStorage.setItem(storageKey(agentId), JSON.stringify(c)) } catch { /* private mode */ }
    return c
  })
  // Shared only while in flight; once settled, the stored copy (checked for expiry) takes over, so
  // an expired challenge is never handed out again.
  const settled = () => { if (inflight.get(agentId) === p) inflight.delete(agentId) }
  p.then(settled, settled)
  inflight.set(agentId, p)
  return p
}

/** Forget the challenge so the next start creates a new one (after expiry, "start again"). */
export function forgetShadowClaim (agentId: string): void {
  inflight.delete(agentId)
  try { sessionStorage.removeItem(storageKey(agentId)) } catch { /* private mode */ }
}
