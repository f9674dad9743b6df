// The parts of an OpenAPI 3.1 document the /docs page shows: operations grouped by tag, in the
// document's tag order, each with its method, path, summary and accepted authentication.

/** Where the Worker serves the committed document (openapi/openapi.json). */
export const OPENAPI_PATH = '/openapi.json'

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const

interface OperationObject {
  operationId?: string
  summary?: string
  tags?: string[]
  security?: Array<Record<string, string[]>>
}

interface SecurityScheme { type?: string, scheme?: string, in?: string, name?: string }

export interface OpenApiDocument {
  openapi: string
  info: { title: string, version: string }
  tags?: Array<{ name: string, description?: string }>
  paths: Record<string, Partial<Record<(typeof METHODS)[number], OperationObject>>>
  components?: { securitySchemes?: Record<string, SecurityScheme> }
}

export interface Operation {
  method: string
  path: string
  summary: string
  /** One label per accepted alternative; empty when the operation needs no authentication. */
  auth: string[]
}

export interface TagGroup { tag: string, description: string, operations: Operation[] }

/** Readable names of the document's security schemes; unknown schemes fall back to their key. */
const SCHEME_LABELS: Record<string, string> = {
  agentSession: 'Agent session',
  overseerSession: 'Overseer session',
  sessionCookie: 'Session cookie',
  agentDpop: 'Agent DPoP proof',
  dpopAccessToken: 'DPoP access token',
  privateKeyJwt: 'private_key_jwt',
  paddleSignature: 'Paddle signature',
}

function authLabels (security: OperationObject['security']): string[] {
  return (security ?? []).map((alternative) =>
    Object.keys(alternative).map((key) => SCHEME_LABELS[key] ?? key).join(' + '))
}

/** Operations grouped by their first tag: the document's tags first, in order, then any others. */
export function groupByTag (doc: OpenApiDocument): TagGroup[] {
  const groups = new Map<string, TagGroup>()
  for (const t of doc.tags ?? []) groups.set(t.name, { tag: t.name, description: t.description ?? '', operations: [] })
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method]
      if (!op) continue
      const tag = op.tags?.[0] ?? 'Other'
      let group = groups.get(tag)
      if (!group) {
        group = { tag, description: '', operations: [] }
        groups.set(tag, group)
      }
      group.operations.push({ method: method.toUpperCase(), path, summary: op.summary ?? '', auth: authLabels(op.security) })
    }
  }
  return [...groups.values()].filter((g) => g.operations.length > 0)
}

/** Fetches the served document; a failure is an Error with a message fit for the page. */
export async function loadOpenApi (signal?: AbortSignal): Promise<OpenApiDocument> {
  const response = await fetch(OPENAPI_PATH, { headers: { accept: 'application/json' }, signal })
  if (!response.ok) throw new Error(`The API document could not be loaded (HTTP ${response.status}).`)
  const doc = await response.json() as OpenApiDocument
  if (typeof doc.openapi !== 'string' || typeof doc.paths !== 'object') throw new Error('The API document is not an OpenAPI document.')
  return doc
}
