import type { ReactNode } from 'react'
import { errorMessage } from '../lib/messages'

/** Errors are announced at once (role=alert); other notices politely. */
export function Notice ({ kind = 'info', children }: { kind?: 'info' | 'success' | 'error', children: ReactNode }) {
  return <div className={`notice ${kind}`} role={kind === 'error' ? 'alert' : 'status'}>{children}</div>
}

export function ErrorNotice ({ error }: { error: unknown }) {
  if (!error) return null
  return <Notice kind="error">{errorMessage(error)}</Notice>
}

export function Loading ({ what }: { what: string }) {
  return <p className="muted" role="status">Loading {what}…</p>
}
