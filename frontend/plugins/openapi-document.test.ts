import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { minifyJson, OPENAPI_ASSET, openapiDocument } from './openapi-document'

// Vitest runs in frontend/ (and under jsdom, so import.meta.url is not a file: URL).
const SOURCE = resolve('../openapi/openapi.json')

/** Runs the plugin's generateBundle hook and returns what it emitted. */
function emitted (source: string): Array<{ type: string, fileName: string, source: string }> {
  const files: Array<{ type: string, fileName: string, source: string }> = []
  const hook = openapiDocument(source).generateBundle as unknown as (this: unknown) => void
  hook.call({ emitFile: (f: { type: string, fileName: string, source: string }) => files.push(f) })
  return files
}

test('only the whitespace between tokens goes; strings, escapes and key order stay', () => {
  const json = '{\n  "b a" : [ 1 , 2.50 , "x \\" \\\\ y\\n" ],\n\t"200": {},\r\n  "a": "\\u00e9 "\n}\n'
  expect(minifyJson(json)).toBe('{"b a":[1,2.50,"x \\" \\\\ y\\n"],"200":{},"a":"\\u00e9 "}')
})

test('the committed document is emitted as dist/openapi.json, the same JSON without indentation', () => {
  const committed = readFileSync(SOURCE, 'utf8')
  const [file, ...others] = emitted(SOURCE)
  expect(others).toEqual([])
  expect(file?.type).toBe('asset')
  expect(file?.fileName).toBe(OPENAPI_ASSET)
  expect(JSON.parse(file?.source ?? '')).toEqual(JSON.parse(committed))
  expect(file?.source).not.toContain('\n')
  expect(file?.source.length).toBeLessThan((committed.length * 3) / 4)
})

test('a document that is not JSON fails the build', () => {
  expect(() => emitted(resolve('index.html'))).toThrow(SyntaxError)
})
