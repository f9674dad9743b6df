import { useEffect, useState } from 'react'

/** Seconds left until `deadline` (RFC 3339), ticking once a second; 0 once passed. */
export function useCountdown (deadline: string | null | undefined, now: () => number = Date.now): number {
  const target = deadline ? Date.parse(deadline) : NaN
  const left = () => (Number.isFinite(target) ? Math.max(0, Math.ceil((target - now()) / 1000)) : 0)
  const [seconds, setSeconds] = useState(left)
  useEffect(() => {
    setSeconds(left())
    if (!Number.isFinite(target)) return
    const id = setInterval(() => {
      const s = left()
      setSeconds(s)
      if (s === 0) clearInterval(id)
    }, 1000)
    return () => clearInterval(id)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [target])
  return seconds
}

/** `m:ss` (or `h:mm:ss`) for a countdown. */
export function formatCountdown (seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
}
