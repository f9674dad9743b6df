// The API reference, rendered from the OpenAPI document the Worker serves (openapi/openapi.json),
// so the page never lists an endpoint the API does not have, or misses one it has.
import { useEffect, useState } from 'react'
import { Link } from 'react-router'
import { groupByTag, loadOpenApi, OPENAPI_PATH, type OpenApiDocument } from '../lib/openapi'

type State = { kind: 'loading' } | { kind: 'error', message: string } | { kind: 'ready', doc: OpenApiDocument }

export function Docs () {
  const [state, setState] = useState<State>({ kind: 'loading' })

  useEffect(() => {
    const abort = new AbortController()
    loadOpenApi(abort.signal).then(
      (doc) => setState({ kind: 'ready', doc }),
      (e: unknown) => {
        if (!abort.signal.aborted) setState({ kind: 'error', message: e instanceof Error ? e.message : String(e) })
      },
    )
    return () => abort.abort()
  }, [])

  return (
    <>
      <h1>API reference</h1>
      <p>
        All endpoints answer JSON. Errors carry a machine-readable <code>code</code> (OAuth endpoints:
        an RFC 6749 <code>error</code>). The complete contract, with every request body, response and
        error, is the OpenAPI 3.1 document <a href={OPENAPI_PATH}><code>{OPENAPI_PATH}</code></a>.
      </p>
      {state.kind === 'loading' && <p role="status">Loading the API document…</p>}
      {state.kind === 'error' && <p role="alert">{state.message}</p>}
      {state.kind === 'ready' && groupByTag(state.doc).map((group) => (
        <section key={group.tag} aria-labelledby={`tag-${slug(group.tag)}`}>
          <h2 id={`tag-${slug(group.tag)}`}>{group.tag}</h2>
          {group.description && <p>{group.description}</p>}
          <div className="table-wrap">
            <table>
              <caption className="sr-only">{group.tag} endpoints</caption>
              <thead>
                <tr><th scope="col">Method</th><th scope="col">Path</th><th scope="col">What it does</th><th scope="col">Authentication</th></tr>
              </thead>
              <tbody>
                {group.operations.map((op) => (
                  <tr key={op.method + op.path}>
                    <td><code>{op.method}</code></td>
                    <td><code>{op.path}</code></td>
                    <td>{op.summary}</td>
                    <td>{op.auth.length === 0 ? 'none' : op.auth.join(' or ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
      <p><Link to="/">Back to the start page</Link></p>
    </>
  )
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-')
