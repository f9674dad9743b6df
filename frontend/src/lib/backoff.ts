// Poll delays of api.md 5.5: start at 2 s, multiply by 1.5 after each poll, never above 30 s.

export interface Backoff { initialMs: number, factor: number, maxMs: number }

export const POLL_BACKOFF: Backoff = { initialMs: 2000, factor: 1.5, maxMs: 30000 }

/** The delay before poll number `attempt` (0-based). */
export function backoffDelay (attempt: number, b: Backoff = POLL_BACKOFF): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`)
  // Stop multiplying once the cap is reached (avoids overflow to Infinity for huge attempts).
  let delay = b.initialMs
  for (let i = 0; i < attempt && delay < b.maxMs; i++) delay *= b.factor
  return Math.min(Math.round(delay), b.maxMs)
}
