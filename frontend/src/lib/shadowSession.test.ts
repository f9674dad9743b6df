import { setUnauthorizedHandler } from '../api/client'
import type { ShadowChallenge } from '../api/types'
import { apiError, created, fakeServer } from '../test/fakeServer'
import { forgetShadowClaim, startShadowClaim } from './shadowSession'

const NOW = Date.parse('2026-05-01T12:00:00.000Z')
const MIN = 60_000

let agentSeq = 0
/** A fresh agent id per test: the module keeps in-flight starts per agent. */
const newAgentId = () => `6f1c2b9e-0000-4000-8000-${String(++agentSeq).padStart(12, '0')}`
const maliceInitiate = (agentId: string) => `/v1/agents/malice/${agentId}`

function challenge (agentId: string, n: number, expiresAt = NOW + 15 * MIN): ShadowChallenge {
  return {
    challenge_id: `ch_${n}`,
    shadow_overseer_id: `shadow_${n}`,
    agent_id: agentId,
    expires_at: new Date(expiresAt).toISOString(),
    expires_in: 900,
    complete_url: `https://id.example/v1/agents/malice/complete/ch_${n}`,
  }
}

/** A server that hands out a new challenge (ch_1, ch_2, …) for every POST. */
function serverFor (agentId: string, expiresAt?: number) {
  let n = 0
  return fakeServer().on('POST', maliceInitiate(agentId), () => created(challenge(agentId, ++n, expiresAt)))
}

const storageKey = (agentId: string) => `agent-id:shadow:${agentId}`

describe('startShadowClaim', () => {
  it('starts once for concurrent callers (StrictMode runs effects twice)', async () => {
    const agentId = newAgentId()
    const server = serverFor(agentId)
    const [a, b] = await Promise.all([startShadowClaim(agentId, NOW), startShadowClaim(agentId, NOW)])
    expect(server.calls('POST', maliceInitiate(agentId))).toHaveLength(1)
    expect(a).toEqual(challenge(agentId, 1))
    expect(b).toEqual(a)
  })

  it('keeps the challenge for the tab, in sessionStorage only', async () => {
    const agentId = newAgentId()
    serverFor(agentId)
    const c = await startShadowClaim(agentId, NOW)
    expect(JSON.parse(sessionStorage.getItem(storageKey(agentId))!)).toEqual(c)
    expect(localStorage.length).toBe(0)
  })

  it('reuses the stored challenge while it is live', async () => {
    const agentId = newAgentId()
    const server = serverFor(agentId)
    const first = await startShadowClaim(agentId, NOW)
    const again = await startShadowClaim(agentId, NOW + 14 * MIN)
    expect(again).toEqual(first)
    expect(server.requests).toHaveLength(1)
  })

  it('reuses a live challenge stored by an earlier page load without asking the server', async () => {
    const agentId = newAgentId()
    const server = serverFor(agentId)
    const kept = challenge(agentId, 41)
    sessionStorage.setItem(storageKey(agentId), JSON.stringify(kept))
    expect(await startShadowClaim(agentId, NOW)).toEqual(kept)
    expect(server.requests).toHaveLength(0)
  })

  it('ignores an expired stored challenge and starts a new one', async () => {
    const agentId = newAgentId()
    const server = serverFor(agentId)
    sessionStorage.setItem(storageKey(agentId), JSON.stringify(challenge(agentId, 41, NOW - 1)))
    const c = await startShadowClaim(agentId, NOW)
    expect(c.challenge_id).toBe('ch_1')
    expect(server.calls('POST', maliceInitiate(agentId))).toHaveLength(1)
    expect(JSON.parse(sessionStorage.getItem(storageKey(agentId))!)).toEqual(c) // replaced
  })

  it('does not hand out a challenge it started itself once that has expired', async () => {
    const agentId = newAgentId()
    const server = serverFor(agentId)
    const first = await startShadowClaim(agentId, NOW)
    const later = await startShadowClaim(agentId, Date.parse(first.expires_at) + 1)
    expect(later.challenge_id).toBe('ch_2')
    expect(server.calls('POST', maliceInitiate(agentId))).toHaveLength(2)
  })

  it('ignores a stored challenge of another agent or one that is not JSON', async () => {
    const agentId = newAgentId()
    const server = serverFor(agentId)
    sessionStorage.setItem(storageKey(agentId), JSON.stringify(challenge(newAgentId(), 41)))
    expect((await startShadowClaim(agentId, NOW)).challenge_id).toBe('ch_1')
    forgetShadowClaim(agentId)
    sessionStorage.setItem(storageKey(agentId), '{not json')
    expect((await startShadowClaim(agentId, NOW)).challenge_id).toBe('ch_2')
    expect(server.requests).toHaveLength(2)
  })

  it('after forgetShadowClaim, the next start creates a new challenge', async () => {
    const agentId = newAgentId()
    const server = serverFor(agentId)
    const first = await startShadowClaim(agentId, NOW)
    forgetShadowClaim(agentId)
    expect(sessionStorage.getItem(storageKey(agentId))).toBeNull()
    const second = await startShadowClaim(agentId, NOW)
    expect(second.challenge_id).not.toBe(first.challenge_id)
    expect(server.calls('POST', maliceInitiate(agentId))).toHaveLength(2)
  })

  it('keeps agents apart', async () => {
    const one = newAgentId()
    const two = newAgentId()
    const server = serverFor(one).on('POST', maliceInitiate(two), created(challenge(two, 9)))
    const [a, b] = await Promise.all([startShadowClaim(one, NOW), startShadowClaim(two, NOW)])
    expect(a.agent_id).toBe(one)
    expect(b.agent_id).toBe(two)
    expect(server.requests).toHaveLength(2)
  })

  it('shares a failure with concurrent callers, stores nothing, and lets a later call retry', async () => {
    const agentId = newAgentId()
    const server = fakeServer().on('POST', maliceInitiate(agentId), apiError(503, 'unavailable'))
    const results = await Promise.allSettled([startShadowClaim(agentId, NOW), startShadowClaim(agentId, NOW)])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    expect(server.requests).toHaveLength(1)
    expect(sessionStorage.getItem(storageKey(agentId))).toBeNull()

    server.on('POST', maliceInitiate(agentId), created(challenge(agentId, 2)))
    expect((await startShadowClaim(agentId, NOW)).challenge_id).toBe('ch_2')
    expect(server.requests).toHaveLength(2)
  })

  it('is an anonymous call: no body, and a 401 is not taken for a lost session', async () => {
    const agentId = newAgentId()
    const server = fakeServer().on('POST', maliceInitiate(agentId), apiError(401, 'unauthorized'))
    const lost = vi.fn()
    setUnauthorizedHandler(lost)
    try {
      await expect(startShadowClaim(agentId, NOW)).rejects.toMatchObject({ status: 401, code: 'unauthorized' })
    } finally {
      setUnauthorizedHandler(null)
    }
    expect(lost).not.toHaveBeenCalled()
    expect(server.requests[0]).toMatchObject({ method: 'POST', body: undefined, credentials: 'same-origin' })
  })
})
