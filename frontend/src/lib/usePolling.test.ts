import { act, renderHook } from '@testing-library/react'
import { advance } from '../test/fakeServer'
import { usePolling } from './usePolling'

interface Status { n: number, done: boolean }

/** A fetcher answering `{ n, done }` for call n (1-based); done from call `doneAt` on. */
function counter (doneAt = Infinity) {
  let n = 0
  return vi.fn(async (): Promise<Status> => { n++; return { n, done: n >= doneAt } })
}

const isDone = (s: Status) => s.done

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

describe('usePolling', () => {
  it('polls after 2 s, then 3 s, 4.5 s, 6.75 s (api.md 5.5)', async () => {
    const fetcher = counter()
    const { result } = renderHook(() => usePolling(fetcher, isDone, true))
    expect(fetcher).not.toHaveBeenCalled()
    expect(result.current.data).toBeNull()

    for (const [step, delay] of [2000, 3000, 4500, 6750].entries()) {
      await advance(delay - 1)
      expect(fetcher).toHaveBeenCalledTimes(step)
      await advance(1)
      expect(fetcher).toHaveBeenCalledTimes(step + 1)
      expect(result.current.data).toEqual({ n: step + 1, done: false })
    }
  })

  it('settles at one poll every 30 s', async () => {
    const fetcher = counter()
    renderHook(() => usePolling(fetcher, isDone, true))
    // 2 + 3 + 4.5 + 6.75 + 10.125 + 15.188 + 22.781 s = 64.344 s for the first 7 polls.
    await advance(64_344)
    expect(fetcher).toHaveBeenCalledTimes(7)
    await advance(29_999)
    expect(fetcher).toHaveBeenCalledTimes(7)
    await advance(1)
    expect(fetcher).toHaveBeenCalledTimes(8)
    await advance(30_000)
    expect(fetcher).toHaveBeenCalledTimes(9)
  })

  it('keeps one schedule under StrictMode double effects', async () => {
    const fetcher = counter()
    renderHook(() => usePolling(fetcher, isDone, true), { reactStrictMode: true })
    await advance(2000)
    expect(fetcher).toHaveBeenCalledTimes(1)
    await advance(3000)
    expect(fetcher).toHaveBeenCalledTimes(2)
    expect(vi.getTimerCount()).toBe(1)
  })

  it('stops once isDone says so', async () => {
    const fetcher = counter(2)
    const { result } = renderHook(() => usePolling(fetcher, isDone, true))
    await advance(2000)
    await advance(3000)
    expect(fetcher).toHaveBeenCalledTimes(2)
    expect(result.current.data).toEqual({ n: 2, done: true })
    expect(vi.getTimerCount()).toBe(0)
    await advance(10 * 60_000)
    expect(fetcher).toHaveBeenCalledTimes(2)
  })

  it('checkNow polls at once and restarts the schedule', async () => {
    const fetcher = counter()
    const { result } = renderHook(() => usePolling(fetcher, isDone, true))
    await advance(2000) // poll 1; poll 2 would be due 3 s later
    await advance(1000)
    expect(fetcher).toHaveBeenCalledTimes(1)

    act(() => { result.current.checkNow() })
    expect(fetcher).toHaveBeenCalledTimes(2) // immediately, not at the old 3 s mark
    await advance(0)
    expect(result.current.data).toEqual({ n: 2, done: false })

    // The schedule starts again at 2 s; the old timer (due in 2 s as well) is gone.
    await advance(1999)
    expect(fetcher).toHaveBeenCalledTimes(2)
    await advance(1)
    expect(fetcher).toHaveBeenCalledTimes(3)
    await advance(2999)
    expect(fetcher).toHaveBeenCalledTimes(3)
    await advance(1)
    expect(fetcher).toHaveBeenCalledTimes(4)
  })

  it('checkNow resumes polling after it was done', async () => {
    const fetcher = counter(1)
    const { result } = renderHook(() => usePolling(fetcher, (s) => s.n === 1, true))
    await advance(2000)
    expect(fetcher).toHaveBeenCalledTimes(1)
    act(() => { result.current.checkNow() })
    await advance(0)
    expect(fetcher).toHaveBeenCalledTimes(2)
    await advance(2000)
    expect(fetcher).toHaveBeenCalledTimes(3)
  })

  it('does nothing after unmount, with a timer pending', async () => {
    const fetcher = counter()
    const { unmount } = renderHook(() => usePolling(fetcher, isDone, true))
    await advance(2000)
    unmount()
    expect(vi.getTimerCount()).toBe(0)
    await advance(10 * 60_000)
    expect(fetcher).toHaveBeenCalledTimes(1)
  })

  it('does nothing after unmount, with a request in flight', async () => {
    let answer: (s: Status) => void = () => {}
    const fetcher = vi.fn(() => new Promise<Status>((resolve) => { answer = resolve }))
    const { unmount } = renderHook(() => usePolling(fetcher, isDone, true))
    await advance(2000)
    expect(fetcher).toHaveBeenCalledTimes(1)
    unmount()
    answer({ n: 1, done: false }) // the answer arrives after the page is gone
    await advance(10 * 60_000)
    expect(fetcher).toHaveBeenCalledTimes(1)
  })

  it('exposes errors and keeps polling; a success clears the error', async () => {
    const failure = new Error('server down')
    const fetcher = vi.fn<() => Promise<Status>>()
      .mockRejectedValueOnce(failure)
      .mockRejectedValueOnce(failure)
      .mockResolvedValue({ n: 3, done: false })
    const { result } = renderHook(() => usePolling(fetcher, isDone, true))

    await advance(2000)
    expect(result.current.error).toBe(failure)
    expect(result.current.data).toBeNull()
    expect(result.current.checking).toBe(false)

    await advance(3000) // the back-off goes on through errors
    expect(fetcher).toHaveBeenCalledTimes(2)
    expect(result.current.error).toBe(failure)

    await advance(4500)
    expect(fetcher).toHaveBeenCalledTimes(3)
    expect(result.current.error).toBeNull()
    expect(result.current.data).toEqual({ n: 3, done: false })
  })

  it('reports checking while a request is in flight', async () => {
    let answer: (s: Status) => void = () => {}
    const fetcher = vi.fn(() => new Promise<Status>((resolve) => { answer = resolve }))
    const { result } = renderHook(() => usePolling(fetcher, isDone, true))
    expect(result.current.checking).toBe(false)
    await advance(2000)
    expect(result.current.checking).toBe(true)
    await act(async () => { answer({ n: 1, done: false }) })
    expect(result.current.checking).toBe(false)
    expect(result.current.data).toEqual({ n: 1, done: false })
  })

  it('does not poll while disabled, and starts when enabled', async () => {
    const fetcher = counter()
    const { result, rerender } = renderHook(({ on }) => usePolling(fetcher, isDone, on), { initialProps: { on: false } })
    await advance(60_000)
    act(() => { result.current.checkNow() })
    expect(fetcher).not.toHaveBeenCalled()

    rerender({ on: true })
    await advance(2000)
    expect(fetcher).toHaveBeenCalledTimes(1)

    rerender({ on: false }) // turning it off cancels the next poll
    await advance(60_000)
    expect(fetcher).toHaveBeenCalledTimes(1)
  })

  it('uses the latest fetcher without restarting the schedule', async () => {
    const first = counter()
    const second = vi.fn(async (): Promise<Status> => ({ n: 100, done: false }))
    const { result, rerender } = renderHook(({ f }) => usePolling(f, isDone, true), { initialProps: { f: first } })
    await advance(2000)
    rerender({ f: second })
    await advance(3000)
    expect(first).toHaveBeenCalledTimes(1)
    expect(second).toHaveBeenCalledTimes(1)
    expect(result.current.data).toEqual({ n: 100, done: false })
  })
})
