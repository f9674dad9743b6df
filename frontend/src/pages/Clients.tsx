import { useEffect, useState, type FormEvent } from 'react'
import { api } from '../api/client'
import type { Client } from '../api/types'
import { useAuth } from '../auth/AuthContext'
import { ConfirmButton } from '../components/ConfirmButton'
import { CopyButton } from '../components/CopyButton'
import { ErrorNotice, Loading, Notice } from '../components/Notice'
import { UsageBar } from '../components/UsageBar'
import { formatDate, hasRoom } from '../lib/format'
import { useAction, useLoad } from '../lib/useAsync'
import { ed25519Supported, generateClientKey, looksLikePublicKey, type GeneratedKey } from '../lib/keys'
import { KeyOnce } from './KeyOnce'

const SCOPES = ['id', 'name', 'description', 'pub_key', 'subscription'] as const

interface Shown { key: GeneratedKey, clientId: string, clientName: string }

export function Clients () {
  const { state } = useAuth()
  const overseerId = state.status === 'signed-in' ? state.overseer.id : ''
  const [shown, setShown] = useState<Shown | null>(null)
  const [canGenerate, setCanGenerate] = useState<boolean | null>(null)

  const load = useLoad(async () => {
    const [own, p] = await Promise.all([api.clients(), api.clientPool(overseerId)])
    return { clients: own.clients, pool: { count: p.count_enabled, max: p.max_clients } }
  }, [overseerId])
  const clients = load.data?.clients ?? null
  const pool = load.data?.pool ?? null
  useEffect(() => { void ed25519Supported().then(setCanGenerate) }, [])

  return (
    <>
      <h1>OAuth clients</h1>
      <p>Apps that ask your agents for consent authenticate with an Ed25519 key (private_key_jwt), or register as public clients without a key.</p>
      <ErrorNotice error={load.error} />
      {pool && <UsageBar label="Enabled clients in your pool" used={pool.count} limit={pool.max} />}
      {shown
        ? <KeyOnce keyPair={shown.key} clientId={shown.clientId} clientName={shown.clientName} onDone={() => setShown(null)} />
        : (
          <RegisterClient
            room={!pool || hasRoom(pool.count, pool.max)}
            canGenerate={canGenerate}
            onRegistered={async (client, key) => {
              if (key) setShown({ key, clientId: client.id, clientName: client.name })
              await load.reload()
            }}
          />
          )}
      <section aria-labelledby="clients-title">
        <h2 id="clients-title">Your clients</h2>
        {clients === null
          ? (load.error ? null : <Loading what="clients" />)
          : clients.length === 0
            ? <p className="muted">No clients yet.</p>
            : (
              <ul className="cards">
                {clients.map((c) => (
                  <ClientCard
                    key={c.id} client={c} canGenerate={canGenerate === true} onChange={load.reload}
                    onNewKey={(key) => setShown({ key, clientId: c.id, clientName: c.name })}
                  />
                ))}
              </ul>
              )}
      </section>
    </>
  )
}

export function RegisterClient ({ room, canGenerate, onRegistered }: {
  room: boolean
  canGenerate: boolean | null
  onRegistered: (client: Client, key: GeneratedKey | null) => Promise<void>
}) {
  const [name, setName] = useState('')
  const [uris, setUris] = useState('')
  const [scopes, setScopes] = useState<string[]>([...SCOPES])
  const [dpop, setDpop] = useState(true)
  const [keyMode, setKeyMode] = useState<'generate' | 'paste'>('generate')
  const [kind, setKind] = useState<'confidential' | 'public'>('confidential')
  const [native, setNative] = useState(true)
  const [pasted, setPasted] = useState('')
  const [formError, setFormError] = useState<string | null>(null)
  const mode = canGenerate === false ? 'paste' : keyMode
  const register = useAction(async (redirectUris: string[]) => {
    if (kind === 'public') {
      const { client } = await api.registerPublicClient({
        name: name.trim(),
        redirect_uris: redirectUris,
        ...(scopes.length ? { scope: scopes.join(' ') } : {}),
        application_type: native ? 'native' : 'web',
      })
      setName(''); setUris('')
      await onRegistered(client, null)
      return
    }
    const key = mode === 'generate' ? await generateClientKey() : null
    const { client } = await api.registerClient({
      name: name.trim(),
      redirect_uris: redirectUris,
      public_key: key ? key.publicKey : pasted.trim(),
      ...(scopes.length ? { scope: scopes.join(' ') } : {}),
      dpop_bound_access_tokens: dpop,
    })
    setName(''); setUris(''); setPasted('')
    await onRegistered(client, key)
  })

  const submit = (e: FormEvent) => {
    e.preventDefault()
    register.setError(null)
    setFormError(null)
    const redirectUris = uris.split('\n').map((u) => u.trim()).filter(Boolean)
    if (redirectUris.length === 0) { setFormError('Add at least one redirect URI.'); return }
    if (kind === 'confidential' && mode === 'paste' && !looksLikePublicKey(pasted)) { setFormError('Paste the raw Ed25519 public key as unpadded base64url (43 characters).'); return }
    void register.run(redirectUris)
  }

  return (
    <section className="card" aria-labelledby="register-title">
      <h2 id="register-title">Register a client</h2>
      {!room && <Notice>Your tier's client limit is reached. Upgrade or delete a client to register another.</Notice>}
      <form onSubmit={submit} noValidate>
        <label htmlFor="client-name">Client name</label>
        <input id="client-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
        <label htmlFor="client-uris">Redirect URIs (one per line)</label>
        <textarea id="client-uris" rows={2} value={uris} onChange={(e) => setUris(e.target.value)} placeholder="https://app.example.com/callback" spellCheck={false} />
        <fieldset>
          <legend>Scopes the client may request</legend>
          {SCOPES.map((s) => (
            <label key={s} className="check">
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.target.checked ? SCOPES.filter((x) => x === s || scopes.includes(x)) : scopes.filter((x) => x !== s))} />
              {s}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Client authentication</legend>
          <label className="check">
            <input type="radio" name="client-kind" value="confidential" checked={kind === 'confidential'} onChange={() => setKind('confidential')} />
            Confidential: an Ed25519 key (private_key_jwt)
          </label>
          <label className="check">
            <input type="radio" name="client-kind" value="public" checked={kind === 'public'} onChange={() => setKind('public')} />
            Public: no key (an app that cannot keep a secret; PKCE and DPoP protect its tokens)
          </label>
        </fieldset>
        {kind === 'public'
          ? <label className="check"><input type="checkbox" checked={native} onChange={(e) => setNative(e.target.checked)} /> Native app (http://127.0.0.1 or http://[::1] redirect URIs match any port)</label>
          : (
            <>
              <label className="check"><input type="checkbox" checked={dpop} onChange={(e) => setDpop(e.target.checked)} /> Require DPoP-bound access tokens</label>
              <fieldset>
                <legend>Public key</legend>
              <label className="check">
                <input type="radio" name="key-mode" value="generate" checked={mode === 'generate'} disabled={canGenerate === false} onChange={() => setKeyMode('generate')} />
                Generate a key pair in this browser{canGenerate === false ? ' (not supported by this browser)' : ''}
              </label>
              <label className="check">
                <input type="radio" name="key-mode" value="paste" checked={mode === 'paste'} onChange={() => setKeyMode('paste')} />
                Paste my own public key
              </label>
              {mode === 'paste' && (
                <>
                  <label htmlFor="client-key">Ed25519 public key (base64url)</label>
                  <input id="client-key" value={pasted} onChange={(e) => setPasted(e.target.value)} spellCheck={false} autoComplete="off" />
                </>
              )}
              </fieldset>
            </>
            )}
        {formError && <div className="notice error" role="alert">{formError}</div>}
        <ErrorNotice error={register.error} />
        <button type="submit" disabled={register.busy || !room || !name.trim()}>{register.busy ? 'Registering…' : 'Register client'}</button>
      </form>
    </section>
  )
}

export function ClientCard ({ client, canGenerate, onChange, onNewKey }: { client: Client, canGenerate: boolean, onChange: () => Promise<void>, onNewKey: (k: GeneratedKey) => void }) {
  const [rekeying, setRekeying] = useState(false)
  const [pasted, setPasted] = useState('')
  const act = useAction(async (fn: () => Promise<unknown>) => { await fn(); await onChange() })
  const headingId = `client-${client.id}`
  return (
    <li className="card" aria-labelledby={headingId}>
      <h3 id={headingId}>{client.name} {client.disabled && <span className="badge">disabled</span>}</h3>
      <dl className="facts">
        <dt>Client id</dt>
        <dd><code>{client.id}</code> <CopyButton text={client.id} label="Copy id" /></dd>
        <dt>Redirect URIs</dt>
        <dd>{client.redirect_uris.map((u) => <code key={u} className="block">{u}</code>)}</dd>
        <dt>Scope</dt>
        <dd>{client.scope ?? 'any'}</dd>
        <dt>Authentication</dt>
        <dd>{client.token_endpoint_auth_method === 'none' ? 'none (public client)' : 'private_key_jwt'}</dd>
        <dt>DPoP-bound tokens</dt>
        <dd>{client.dpop_bound_access_tokens ? 'required' : 'optional'}</dd>
        <dt>Registered</dt>
        <dd>{formatDate(client.created_at)}</dd>
      </dl>
      {client.disabled && (
        <Notice>
          Disabled {client.disabled_reason === 'subscription_paused' ? 'while your subscription is paused' : 'because your tier’s client limit was exceeded'}.
        </Notice>
      )}
      <ErrorNotice error={act.error} />
      <p className="actions">
        {client.disabled && <button type="button" onClick={() => act.run(() => api.enableClient(client.id))}>Re-enable</button>}
        {client.public_key !== null && <button type="button" className="secondary" aria-expanded={rekeying} onClick={() => setRekeying(!rekeying)}>Re-key</button>}
        <ConfirmButton label="Delete" confirmLabel="Yes, delete" question={`Delete ${client.name}? Its tokens stop working.`} onConfirm={() => act.run(() => api.deleteClient(client.id))} />
      </p>
      {rekeying && (
        <div className="rekey">
          <p>A new key revokes every token and code issued to this client.</p>
          {canGenerate && (
            <button type="button" onClick={() => act.run(async () => {
              const key = await generateClientKey()
              await api.rekeyClient(client.id, key.publicKey)
              setRekeying(false)
              onNewKey(key)
            })}>Generate a new key pair</button>
          )}
          <form className="inline-form" noValidate onSubmit={(e) => {
            e.preventDefault()
            if (!looksLikePublicKey(pasted)) { act.setError(new Error('Paste the raw Ed25519 public key as unpadded base64url (43 characters).')); return }
            void act.run(async () => { await api.rekeyClient(client.id, pasted.trim()); setPasted(''); setRekeying(false) })
          }}>
            <label htmlFor={`rekey-${client.id}`}>Or paste a public key</label>
            <input id={`rekey-${client.id}`} value={pasted} onChange={(e) => setPasted(e.target.value)} spellCheck={false} autoComplete="off" />
            <button type="submit" className="secondary" disabled={!pasted.trim()}>Use this key</button>
          </form>
        </div>
      )}
    </li>
  )
}
