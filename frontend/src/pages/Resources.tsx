import { useState, type FormEvent } from 'react'
import { resourcesApi } from '../api/client'
import type { Resource, ResourceInput, ResourceScope } from '../api/types'
import { ConfirmButton } from '../components/ConfirmButton'
import { CopyButton } from '../components/CopyButton'
import { ErrorNotice, Loading, Notice } from '../components/Notice'
import { UsageBar } from '../components/UsageBar'
import { formatDate, hasRoom } from '../lib/format'
import { useAction, useLoad } from '../lib/useAsync'

/** The line a resource server puts on its 401 so that clients find agent-id (RFC 9728 §5.1). */
export function wwwAuthenticate (metadataUrl: string): string {
  return `WWW-Authenticate: Bearer resource_metadata="${metadataUrl}"`
}

/** Protected resources (docs/resources.md): the APIs and MCP servers the overseer runs. */
export function Resources () {
  const load = useLoad(resourcesApi.list, [])
  const data = load.data
  const room = !data || hasRoom(data.count, data.max_resources)
  return (
    <>
      <h1>Protected resources</h1>
      <p>APIs and MCP servers you run and put agent-id in front of. Agents get tokens whose audience is the resource’s URI.</p>
      <ErrorNotice error={load.error} />
      {data && <UsageBar label="Protected resources" used={data.count} limit={data.max_resources} />}
      <RegisterResource room={room} onRegistered={load.reload} />
      <section aria-labelledby="resources-title">
        <h2 id="resources-title">Your resources</h2>
        {data === null
          ? (load.error ? null : <Loading what="resources" />)
          : data.resources.length === 0
            ? <p className="muted">No resources yet.</p>
            : (
              <ul className="cards">
                {data.resources.map((r) => <ResourceCard key={r.id} resource={r} onChange={load.reload} />)}
              </ul>
              )}
      </section>
    </>
  )
}

/** Scope rows being edited: a stable key for each row, so removing one keeps the others' focus. */
interface Row extends ResourceScope { key: number }

let nextKey = 0
const row = (s: ResourceScope = { name: '', description: '' }): Row => ({ ...s, key: nextKey++ })

/** The fields registration and edit share; `idPrefix` keeps the labels' ids unique per form. */
function ResourceFields ({ idPrefix, name, setName, rows, setRows, dpop, setDpop, alg, setAlg }: {
  idPrefix: string
  name: string
  setName: (v: string) => void
  rows: Row[]
  setRows: (v: Row[]) => void
  dpop: boolean
  setDpop: (v: boolean) => void
  alg: ResourceInput['access_token_alg']
  setAlg: (v: ResourceInput['access_token_alg']) => void
}) {
  const change = (key: number, patch: Partial<ResourceScope>) =>
    setRows(rows.map((r) => (r.key === key ? { ...r, ...patch } : r)))
  return (
    <>
      <label htmlFor={`${idPrefix}-name`}>Name</label>
      <input id={`${idPrefix}-name`} value={name} onChange={(e) => setName(e.target.value)} required maxLength={128} />
      <fieldset>
        <legend>Scopes the resource understands</legend>
        {rows.map((r, i) => (
          <div key={r.key} className="scope-row">
            <label htmlFor={`${idPrefix}-scope-${r.key}`}>Scope {i + 1} name</label>
            <input id={`${idPrefix}-scope-${r.key}`} value={r.name} onChange={(e) => change(r.key, { name: e.target.value })} spellCheck={false} autoComplete="off" maxLength={64} placeholder="tools:read" />
            <label htmlFor={`${idPrefix}-desc-${r.key}`}>Scope {i + 1} description</label>
            <input id={`${idPrefix}-desc-${r.key}`} value={r.description} onChange={(e) => change(r.key, { description: e.target.value })} maxLength={200} />
            <button type="button" className="secondary small" disabled={rows.length === 1} onClick={() => setRows(rows.filter((x) => x.key !== r.key))} aria-label={`Remove scope ${i + 1}`}>Remove</button>
          </div>
        ))}
        <button type="button" className="secondary small" disabled={rows.length >= 32} onClick={() => setRows([...rows, row()])}>Add a scope</button>
      </fieldset>
      <label className="check"><input type="checkbox" checked={dpop} onChange={(e) => setDpop(e.target.checked)} /> Require DPoP-bound access tokens</label>
      <label htmlFor={`${idPrefix}-alg`}>Access-token signing algorithm</label>
      <select id={`${idPrefix}-alg`} value={alg} onChange={(e) => setAlg(e.target.value as ResourceInput['access_token_alg'])}>
        <option value="EdDSA">EdDSA (Ed25519)</option>
        <option value="ES256">ES256 (P-256)</option>
      </select>
    </>
  )
}

/** The scope rows as the API takes them, or why they cannot be sent yet. */
function scopesOf (rows: Row[]): ResourceScope[] | string {
  const scopes = rows.map((r) => ({ name: r.name.trim(), description: r.description.trim() }))
  if (scopes.some((s) => !s.name)) return 'Give every scope a name, or remove the empty row.'
  return scopes
}

function RegisterResource ({ room, onRegistered }: { room: boolean, onRegistered: () => Promise<void> }) {
  const [uri, setUri] = useState('')
  const [name, setName] = useState('')
  const [rows, setRows] = useState<Row[]>(() => [row()])
  const [dpop, setDpop] = useState(false)
  const [alg, setAlg] = useState<ResourceInput['access_token_alg']>('EdDSA')
  const [formError, setFormError] = useState<string | null>(null)
  const register = useAction(async (scopes: ResourceScope[]) => {
    await resourcesApi.register({ uri: uri.trim(), name: name.trim(), scopes, dpop_bound_access_tokens: dpop, access_token_alg: alg })
    setUri(''); setName(''); setRows([row()]); setDpop(false); setAlg('EdDSA')
    await onRegistered()
  })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    register.setError(null)
    setFormError(null)
    const scopes = scopesOf(rows)
    if (typeof scopes === 'string') { setFormError(scopes); return }
    void register.run(scopes)
  }
  return (
    <section className="card" aria-labelledby="register-resource-title">
      <h2 id="register-resource-title">Register a resource</h2>
      {!room && <Notice>Your tier’s resource limit is reached. Upgrade or delete a resource to register another.</Notice>}
      <form onSubmit={submit} noValidate>
        <label htmlFor="resource-uri">Resource URI</label>
        <input id="resource-uri" type="url" value={uri} onChange={(e) => setUri(e.target.value)} required spellCheck={false} autoComplete="off" placeholder="https://mcp.example.com/mcp" aria-describedby="resource-uri-help" />
        <p id="resource-uri-help" className="muted">An https URI without query or fragment. It cannot be changed later: it is the audience of the tokens.</p>
        <ResourceFields idPrefix="resource" name={name} setName={setName} rows={rows} setRows={setRows} dpop={dpop} setDpop={setDpop} alg={alg} setAlg={setAlg} />
        {formError && <div className="notice error" role="alert">{formError}</div>}
        <ErrorNotice error={register.error} />
        <button type="submit" disabled={register.busy || !room || !uri.trim() || !name.trim()}>{register.busy ? 'Registering…' : 'Register resource'}</button>
      </form>
    </section>
  )
}

function ResourceCard ({ resource, onChange }: { resource: Resource, onChange: () => Promise<void> }) {
  const [editing, setEditing] = useState(false)
  const act = useAction(async (fn: () => Promise<unknown>) => { await fn(); await onChange() })
  const headingId = `resource-${resource.id}`
  const header = wwwAuthenticate(resource.metadata_url)
  return (
    <li className="card" aria-labelledby={headingId}>
      <h3 id={headingId}>{resource.name}</h3>
      <dl className="facts">
        <dt>URI (token audience)</dt>
        <dd><code>{resource.uri}</code></dd>
        <dt>Metadata URL</dt>
        <dd><code className="block" data-testid="metadata-url">{resource.metadata_url}</code> <CopyButton text={resource.metadata_url} label="Copy metadata URL" /></dd>
        <dt>Header for your 401</dt>
        <dd><code className="block">{header}</code> <CopyButton text={header} label="Copy header" /></dd>
        <dt>Scopes</dt>
        <dd>
          <ul className="plain">
            {resource.scopes.map((s) => <li key={s.name}><code>{s.name}</code>{s.description ? ` — ${s.description}` : ''}</li>)}
          </ul>
        </dd>
        <dt>DPoP-bound tokens</dt>
        <dd>{resource.dpop_bound_access_tokens ? 'required' : 'optional'}</dd>
        <dt>Token algorithm</dt>
        <dd>{resource.access_token_alg}</dd>
        <dt>Registered</dt>
        <dd>{formatDate(resource.created_at)}</dd>
      </dl>
      <ErrorNotice error={act.error} />
      <p className="actions">
        <button type="button" className="secondary" aria-expanded={editing} onClick={() => setEditing(!editing)}>Edit</button>
        <ConfirmButton
          label="Delete" confirmLabel="Yes, delete"
          question={`Delete ${resource.name}? Grants approved for it are revoked.`}
          onConfirm={() => act.run(() => resourcesApi.remove(resource.id))}
        />
      </p>
      {editing && (
        <EditResource resource={resource} onSaved={async () => { setEditing(false); await onChange() }} onCancel={() => setEditing(false)} />
      )}
    </li>
  )
}

function EditResource ({ resource, onSaved, onCancel }: { resource: Resource, onSaved: () => Promise<void>, onCancel: () => void }) {
  const [name, setName] = useState(resource.name)
  const [rows, setRows] = useState<Row[]>(() => resource.scopes.map((s) => row(s)))
  const [dpop, setDpop] = useState(resource.dpop_bound_access_tokens)
  const [alg, setAlg] = useState(resource.access_token_alg)
  const [formError, setFormError] = useState<string | null>(null)
  const save = useAction(async (scopes: ResourceScope[]) => {
    await resourcesApi.update(resource.id, { name: name.trim(), scopes, dpop_bound_access_tokens: dpop, access_token_alg: alg })
    await onSaved()
  })
  return (
    <form
      className="edit" noValidate aria-label={`Edit ${resource.name}`}
      onSubmit={(e) => {
        e.preventDefault()
        setFormError(null)
        const scopes = scopesOf(rows)
        if (typeof scopes === 'string') { setFormError(scopes); return }
        void save.run(scopes)
      }}
    >
      <ResourceFields idPrefix={`edit-${resource.id}`} name={name} setName={setName} rows={rows} setRows={setRows} dpop={dpop} setDpop={setDpop} alg={alg} setAlg={setAlg} />
      {formError && <div className="notice error" role="alert">{formError}</div>}
      <ErrorNotice error={save.error} />
      <p className="actions">
        <button type="submit" disabled={save.busy || !name.trim()}>{save.busy ? 'Saving…' : 'Save changes'}</button>
        <button type="button" className="secondary" onClick={onCancel}>Cancel</button>
      </p>
    </form>
  )
}
