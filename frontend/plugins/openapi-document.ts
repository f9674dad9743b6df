// Ships the API's OpenAPI document (openapi/openapi.json) among the static assets as
// dist/openapi.json, without its indentation. The Worker's GET /openapi.json reads it from there
// (src/routes/openapi.rs) instead of carrying it in the wasm, whose gzip size is an upload limit.
import { readFileSync } from 'node:fs'
import type { Plugin } from 'vite'

/** Where the document lands in dist/ (and the path the Worker reads through its ASSETS binding). */
export const OPENAPI_ASSET = 'openapi.json'

/**
 * JSON without the whitespace between tokens (RFC 8259 §2: space, tab, LF, CR). Strings, key
 * order and numbers stay exactly as written, which a JSON.parse / JSON.stringify round trip would
 * not keep (it moves integer-like keys such as "200" first and rewrites escapes).
 */
export function minifyJson (json: string): string {
  return json.replace(/"(?:[^"\\]|\\.)*"|[ \t\n\r]+/g, (m) => (m.startsWith('"') ? m : ''))
}

/** The Vite plugin: emits `source`, checked to be JSON and minified, as dist/openapi.json. */
export function openapiDocument (source: string): Plugin {
  return {
    name: 'agent-id:openapi-document',
    apply: 'build',
    buildStart () {
      this.addWatchFile(source)
    },
    generateBundle () {
      const text = readFileSync(source, 'utf8')
      JSON.parse(text) // a broken document fails the build, not the first client
      this.emitFile({ type: 'asset', fileName: OPENAPI_ASSET, source: minifyJson(text) })
    },
  }
}
