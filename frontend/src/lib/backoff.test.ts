import { backoffDelay, POLL_BACKOFF } from './backoff'

describe('backoffDelay', () => {
  it('starts at 2 s and multiplies by 1.5 (api.md 5.5)', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n))).toEqual([2000, 3000, 4500, 6750, 10125, 15188, 22781])
  })

  it('is capped at 30 s from the 8th poll on', () => {
    expect(backoffDelay(7)).toBe(30000)
    expect(backoffDelay(8)).toBe(30000)
    expect(backoffDelay(100)).toBe(30000)
    expect(backoffDelay(1_000_000)).toBe(30000) // no overflow to Infinity
  })

  it('never decreases and never exceeds the cap', () => {
    let previous = 0
    for (let n = 0; n < 50; n++) {
      const d = backoffDelay(n)
      expect(d).toBeGreaterThanOrEqual(previous)
      expect(d).toBeLessThanOrEqual(POLL_BACKOFF.maxMs)
      previous = d
    }
  })

  it('honours a custom schedule', () => {
    const b = { initialMs: 100, factor: 2, maxMs: 500 }
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(n, b))).toEqual([100, 200, 400, 500, 500])
  })

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects attempt %s', (n) => {
    expect(() => backoffDelay(n)).toThrow(RangeError)
  })
})
