// The /docs page renders the committed OpenAPI document: every operation, grouped by tag.
import { render, screen } from '@testing-library/react'
import { MemoryRouter } from 'react-router'
import committed from '../../../openapi/openapi.json'
import type { OpenApiDocument } from '../lib/openapi'
import { fakeServer, ok } from '../test/fakeServer'
import { Docs } from './Docs'

const doc = committed as unknown as OpenApiDocument
const METHODS = ['get', 'put', 'post', 'delete', 'patch']

function documentedOperations (): Array<{ method: string, path: string, summary: string, tag: string }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, summary: op.summary ?? '', tag: op.tags?.[0] ?? '' })))
}

const renderDocs = () => render(<MemoryRouter><Docs /></MemoryRouter>)

test('every operation of the committed document appears under its tag, with method, summary and auth', async () => {
  const server = fakeServer().on('GET', '/openapi.json', ok(committed))
  renderDocs()

  await screen.findByRole('heading', { level: 2, name: 'Agents' })
  // Rows read through the DOM (role queries over ~60 rows are too slow in jsdom).
  const rowsByTag = new Map<string, string[][]>()
  for (const section of document.querySelectorAll('section')) {
    const tag = section.querySelector('h2')?.textContent ?? ''
    const rows = [...section.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''))
    rowsByTag.set(tag, rows)
  }
  const ops = documentedOperations()
  expect(ops.length).toBeGreaterThan(50)
  for (const op of ops) {
    const row = rowsByTag.get(op.tag)?.find(([method, path]) => method === op.method && path === op.path)
    expect(row, `${op.method} ${op.path} under ${op.tag}`).toBeDefined()
    expect(row![2]).toBe(op.summary)
  }
  expect([...rowsByTag.values()].flat()).toHaveLength(ops.length)

  const all = [...rowsByTag.values()].flat()
  expect(all.find(([m, p]) => m === 'POST' && p === '/v1/agents/login')![3]).toBe('Agent DPoP proof')
  expect(all.find(([m, p]) => m === 'GET' && p === '/v1/overseers/me')![3]).toBe('Overseer session or Session cookie')
  expect(all.find(([m, p]) => m === 'GET' && p === '/health')![3]).toBe('none')
  expect(screen.getByRole('link', { name: '/openapi.json' }).getAttribute('href')).toBe('/openapi.json')
  expect(server.unhandled).toEqual([])
})

test('a failed load says so instead of showing an empty reference', async () => {
  fakeServer().on('GET', '/openapi.json', { status: 503, body: { success: false, error: 'Service unavailable', code: 'configuration_error' } })
  renderDocs()
  expect((await screen.findByRole('alert')).textContent).toContain('HTTP 503')
  expect(screen.queryByRole('table')).toBeNull()
})
