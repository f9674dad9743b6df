import { useEffect, useMemo, useRef } from 'react'
import { keyFile, type GeneratedKey } from '../lib/keys'

/** The private key of a newly generated client key, shown exactly once, with a download. */
export function KeyOnce ({ keyPair, clientId, clientName, onDone }: { keyPair: GeneratedKey, clientId: string, clientName: string, onDone: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => { heading.current?.focus() }, [])
  const file = useMemo(() => keyFile(keyPair, clientId), [keyPair, clientId])
  const href = useMemo(() => URL.createObjectURL(new Blob([file], { type: 'application/json' })), [file])
  useEffect(() => () => URL.revokeObjectURL(href), [href])
  return (
    <section className="card keyonce" aria-labelledby="keyonce-title">
      <h2 id="keyonce-title" ref={heading} tabIndex={-1}>Save the private key of {clientName}</h2>
      <p>
        This is the only time the private key is shown. agent-id stores only the public key; if you lose
        the private key, re-key the client.
      </p>
      <p><a className="button" href={href} download={`agent-id-client-${clientId}.json`}>Download key file</a></p>
      <label htmlFor="keyonce-pem">Private key (PKCS#8 PEM)</label>
      <textarea id="keyonce-pem" readOnly rows={4} value={keyPair.privatePem} data-testid="private-key" />
      <p className="muted">Client id <code>{clientId}</code> · public key <code>{keyPair.publicKey}</code></p>
      <button type="button" onClick={onDone}>I have saved the private key</button>
    </section>
  )
}
