import { act, renderHook, waitFor } from '@testing-library/react'
import { useAction, useLoad } from './useAsync'

// React drops a state update on an unmounted component without a word, so the hooks' own state
// setters are counted here: "nothing written after unmount" is then something a test can see.
const setterCalls = vi.hoisted(() => ({ count: 0 }))
vi.mock('react', async (importOriginal) => {
  const React = await importOriginal<typeof import('react')>()
  const useState = <S>(initial: S | (() => S)) => {
    const [value, set] = React.useState(initial)
    const counted = React.useCallback((next: React.SetStateAction<S>) => { setterCalls.count++; set(next) }, [set])
    return [value, counted] as const
  }
  return { ...React, useState }
})

/** A promise settled from the test, to hold a request in flight. */
function deferred<T> () {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

describe('useLoad', () => {
  it('is loading, then holds the data', async () => {
    const d = deferred<string[]>()
    const { result } = renderHook(() => useLoad(() => d.promise, []))
    expect(result.current).toMatchObject({ data: null, error: null, loading: true })
    await act(async () => { d.resolve(['a']) })
    expect(result.current).toMatchObject({ data: ['a'], error: null, loading: false })
  })

  it('reports a failure, keeps the last data, and a successful reload clears the error', async () => {
    let n = 0
    const fetcher = vi.fn(async () => {
      n++
      if (n === 2) throw new Error('server down')
      return n
    })
    const { result } = renderHook(() => useLoad(fetcher, []))
    await waitFor(() => expect(result.current.data).toBe(1))

    await act(() => result.current.reload())
    expect(result.current.error).toEqual(new Error('server down'))
    expect(result.current.data).toBe(1)
    expect(result.current.loading).toBe(false)

    await act(() => result.current.reload())
    expect(result.current).toMatchObject({ data: 3, error: null, loading: false })
  })

  it('fetches again when a dependency changes, and a stale answer never overwrites a newer one', async () => {
    const answers = new Map([['a', deferred<string>()], ['b', deferred<string>()]])
    const { result, rerender } = renderHook(({ id }) => useLoad(() => answers.get(id)!.promise, [id]), {
      initialProps: { id: 'a' },
    })
    rerender({ id: 'b' })
    await act(async () => { answers.get('b')!.resolve('B') })
    expect(result.current.data).toBe('B')
    await act(async () => { answers.get('a')!.resolve('A') })
    expect(result.current).toMatchObject({ data: 'B', loading: false })
  })

  it('writes no state after unmount', async () => {
    for (const settle of ['resolve', 'reject'] as const) {
      const d = deferred<number>()
      const { unmount } = renderHook(() => useLoad(() => d.promise, []))
      unmount()
      const before = setterCalls.count
      await act(async () => { if (settle === 'resolve') d.resolve(7); else d.reject(new Error('late')) })
      expect(setterCalls.count, settle).toBe(before)
    }
  })
})

describe('useAction', () => {
  it('is busy while running and idle afterwards', async () => {
    const d = deferred<void>()
    const action = vi.fn((_id: string) => d.promise)
    const { result } = renderHook(() => useAction(action))
    expect(result.current.busy).toBe(false)

    let run!: Promise<void>
    act(() => { run = result.current.run('agent-1') })
    expect(result.current.busy).toBe(true)
    expect(action).toHaveBeenCalledWith('agent-1')

    await act(async () => { d.resolve(); await run })
    expect(result.current).toMatchObject({ busy: false, error: null })
  })

  it('turns a failure into its error, never a rejection, and the next run clears it', async () => {
    let fail = true
    const { result } = renderHook(() => useAction(async () => { if (fail) throw new Error('tier_limit_reached') }))
    await act(() => result.current.run())
    expect(result.current.error).toEqual(new Error('tier_limit_reached'))
    expect(result.current.busy).toBe(false)

    fail = false
    await act(() => result.current.run())
    expect(result.current.error).toBeNull()
  })

  it('shows a form check through setError', () => {
    const { result } = renderHook(() => useAction(async () => {}))
    act(() => { result.current.setError(new Error('Paste the key')) })
    expect(result.current.error).toEqual(new Error('Paste the key'))
  })

  it('stays busy until every overlapping run has settled', async () => {
    const first = deferred<void>()
    const second = deferred<void>()
    const { result } = renderHook(() => useAction((d: ReturnType<typeof deferred<void>>) => d.promise))
    act(() => { void result.current.run(first); void result.current.run(second) })
    await act(async () => { first.resolve() })
    expect(result.current.busy).toBe(true)
    await act(async () => { second.resolve() })
    expect(result.current.busy).toBe(false)
  })

  it('writes no state after unmount, even when the action fails (an action may remove its own card)', async () => {
    for (const settle of ['resolve', 'reject'] as const) {
      const d = deferred<void>()
      const { result, unmount } = renderHook(() => useAction(() => d.promise))
      let run!: Promise<void>
      act(() => { run = result.current.run() })
      unmount()
      const before = setterCalls.count
      await act(async () => { if (settle === 'resolve') d.resolve(); else d.reject(new Error('gone')); await run })
      expect(setterCalls.count, settle).toBe(before)
    }
  })
})
