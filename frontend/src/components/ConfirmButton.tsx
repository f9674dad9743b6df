import { useEffect, useRef, useState } from 'react'

/** A destructive action behind an inline confirmation (keyboard friendly, no window.confirm). */
export function ConfirmButton ({ label, confirmLabel, question, onConfirm, disabled }: {
  label: string
  confirmLabel: string
  question: string
  onConfirm: () => Promise<void> | void
  disabled?: boolean
}) {
  const [asking, setAsking] = useState(false)
  const [busy, setBusy] = useState(false)
  const confirmRef = useRef<HTMLButtonElement>(null)
  useEffect(() => { if (asking) confirmRef.current?.focus() }, [asking])
  if (!asking) {
    return <button type="button" className="danger-outline" disabled={disabled} onClick={() => setAsking(true)}>{label}</button>
  }
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button
        ref={confirmRef}
        type="button"
        className="danger"
        disabled={busy}
        onClick={async () => {
          setBusy(true)
          try { await onConfirm() } finally { setBusy(false); setAsking(false) }
        }}
      >{confirmLabel}</button>
      <button type="button" className="secondary" disabled={busy} onClick={() => setAsking(false)}>Keep</button>
    </span>
  )
}
