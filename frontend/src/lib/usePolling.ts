import { useCallback, useEffect, useRef, useState } from 'react'
import { backoffDelay, POLL_BACKOFF, type Backoff } from './backoff'

export interface Polling<T> {
  /** The last successful result. */
  data: T | null
  /** The last failure (cleared by the next success). */
  error: unknown
  /** True while a request is in flight. */
  checking: boolean
  /** Poll now (the "check" button); restarts the back-off schedule. */
  checkNow: () => void
}

/**
 * Polls `fetcher` with exponential back-off until `isDone(result)` or `enabled` turns false.
 * One timer at a time; nothing runs after unmount. `fetcher` is read through a ref so callers need
 * not memoise it.
 */
export function usePolling<T> (
  fetcher: () => Promise<T>,
  isDone: (result: T) => boolean,
  enabled: boolean,
  backoff: Backoff = POLL_BACKOFF,
): Polling<T> {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [checking, setChecking] = useState(false)
  const fetcherRef = useRef(fetcher)
  const isDoneRef = useRef(isDone)
  fetcherRef.current = fetcher
  isDoneRef.current = isDone

  const attempt = useRef(0)
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null)
  const generation = useRef(0)
  const stopped = useRef(!enabled)

  const clear = () => {
    if (timer.current !== null) clearTimeout(timer.current)
    timer.current = null
  }

  const poll = useCallback(async (gen: number) => {
    clear()
    setChecking(true)
    let done = false
    try {
      const result = await fetcherRef.current()
      if (gen !== generation.current) return
      setData(result)
      setError(null)
      done = isDoneRef.current(result)
    } catch (e) {
      if (gen !== generation.current) return
      setError(e)
    } finally {
      if (gen === generation.current) setChecking(false)
    }
    if (done) {
      stopped.current = true
      return
    }
    if (!stopped.current && gen === generation.current) {
      timer.current = setTimeout(() => { void poll(gen) }, backoffDelay(attempt.current++, backoff))
    }
  }, [backoff])

  useEffect(() => {
    if (!enabled) return
    stopped.current = false
    attempt.current = 0
    const gen = ++generation.current
    timer.current = setTimeout(() => { void poll(gen) }, backoffDelay(attempt.current++, backoff))
    return () => {
      stopped.current = true
      generation.current++
      clear()
    }
  }, [enabled, poll, backoff])

  const checkNow = useCallback(() => {
    if (!enabled) return
    stopped.current = false
    attempt.current = 0
    const gen = ++generation.current
    void poll(gen)
  }, [enabled, poll])

  return { data, error, checking, checkNow }
}
