import { useCallback, useEffect, useRef, useState, type DependencyList } from 'react'

export interface Load<T> {
  /** The last successful result; kept while a reload runs and when it fails. */
  data: T | null
  /** The last failure, cleared by the next success. */
  error: unknown
  /** True while a request is in flight. */
  loading: boolean
  /** Fetches again; resolves once the state is updated and never rejects (failures land in `error`). */
  reload: () => Promise<void>
}

/**
 * Loads `fetcher()` on mount and whenever `deps` change. Only the newest request writes state, and
 * nothing is written after unmount. `fetcher` is read through a ref, so it need not be memoised:
 * `deps` say when to fetch again.
 */
export function useLoad<T> (fetcher: () => Promise<T>, deps: DependencyList): Load<T> {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [loading, setLoading] = useState(true)
  const fetcherRef = useRef(fetcher)
  fetcherRef.current = fetcher
  // Each request takes a generation; a later request (or unmount) makes an earlier one stale.
  const generation = useRef(0)
  const mounted = useRef(false)

  const reload = useCallback(async () => {
    const gen = ++generation.current
    const current = () => mounted.current && gen === generation.current
    setLoading(true)
    try {
      const result = await fetcherRef.current()
      if (!current()) return
      setData(result)
      setError(null)
    } catch (e) {
      if (current()) setError(e)
    } finally {
      if (current()) setLoading(false)
    }
  }, [])

  useEffect(() => {
    mounted.current = true
    void reload()
    return () => {
      mounted.current = false
      generation.current++
    }
    // `deps` is the caller's list of what the fetcher reads.
  }, [reload, ...deps])

  return { data, error, loading, reload }
}

export interface Action<A extends unknown[]> {
  /** Runs the action; resolves when it settled and never rejects (a failure lands in `error`). */
  run: (...args: A) => Promise<void>
  /** True while a run is in flight. */
  busy: boolean
  /** The last run's failure; cleared when the next run starts. */
  error: unknown
  /** Shows a failure found before running (a form check), or clears it with `null`. */
  setError: (error: unknown) => void
}

/**
 * Wraps a user action (a button, a form) with its busy flag and error. Nothing is written after
 * unmount, so an action may remove its own component (a declaim, a delete). `action` is read
 * through a ref, so it need not be memoised; `run` is stable.
 */
export function useAction<A extends unknown[]> (action: (...args: A) => Promise<unknown>): Action<A> {
  const [pending, setPending] = useState(0)
  const [error, setError] = useState<unknown>(null)
  const actionRef = useRef(action)
  actionRef.current = action
  const mounted = useRef(false)
  useEffect(() => {
    mounted.current = true
    return () => { mounted.current = false }
  }, [])

  const run = useCallback(async (...args: A) => {
    setError(null)
    setPending((n) => n + 1)
    try {
      await actionRef.current(...args)
    } catch (e) {
      if (mounted.current) setError(e)
    } finally {
      if (mounted.current) setPending((n) => n - 1)
    }
  }, [])

  return { run, busy: pending > 0, error, setError }
}
