// A tiny fake of the agent-id API for component tests: it replaces the global `fetch` (the only
// thing stubbed) and answers by method + path, recording every request it sees.
import { act } from '@testing-library/react'
import { vi } from 'vitest'

export interface FakeRequest {
  method: string
  /** Path with query string, e.g. `/v1/overseers/me`. */
  path: string
  /** The parsed JSON body, or undefined when none was sent. */
  body: unknown
  credentials: RequestCredentials | undefined
}

export interface Reply {
  status: number
  body?: unknown
  headers?: Record<string, string>
}

export type Handler = (req: FakeRequest) => Reply | Promise<Reply>

export const ok = (body: unknown): Reply => ({ status: 200, body })
export const created = (body: unknown): Reply => ({ status: 201, body })
/** An API error body as the server sends it (api.md 1.5): `{ error, code }`. */
export const apiError = (status: number, code: string, headers?: Record<string, string>): Reply =>
  ({ status, body: { error: `server says ${code}`, code }, ...(headers ? { headers } : {}) })

/** Answers one reply per call, repeating the last one once the list runs out. */
export function sequence (...replies: Reply[]): Handler {
  let i = 0
  return () => replies[Math.min(i++, replies.length - 1)]!
}

export class FakeServer {
  /** Every request, in order. */
  readonly requests: FakeRequest[] = []
  /** Requests no route matched (answered 501); a test expecting a quiet server checks it is empty. */
  readonly unhandled: FakeRequest[] = []
  private readonly routes: Array<{ method: string, path: string, handler: Handler }> = []

  readonly fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const req: FakeRequest = {
      method: (init.method ?? 'GET').toUpperCase(),
      path: url,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      credentials: init.credentials,
    }
    this.requests.push(req)
    // The newest route for a method + path wins, so a test can change an answer midway.
    const route = [...this.routes].reverse().find((r) => r.method === req.method && r.path === req.path)
    if (!route) {
      this.unhandled.push(req)
      return new Response(JSON.stringify({ error: 'no fake route', code: 'not_stubbed' }), { status: 501 })
    }
    const r = await route.handler(req)
    return new Response(r.body === undefined ? null : JSON.stringify(r.body), {
      status: r.status,
      headers: { 'content-type': 'application/json', ...r.headers },
    })
  })

  on (method: string, path: string, answer: Handler | Reply): this {
    this.routes.push({ method, path, handler: typeof answer === 'function' ? answer : () => answer })
    return this
  }

  /** The requests made to one method + path. */
  calls (method: string, path: string): FakeRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path)
  }
}

/** A fresh fake server installed as the global `fetch` (undone by `unstubGlobals` after each test). */
export function fakeServer (): FakeServer {
  const server = new FakeServer()
  vi.stubGlobal('fetch', server.fetch)
  return server
}

/** Under fake timers: move the clock by `ms` and let every promise and React update settle. */
export async function advance (ms = 0): Promise<void> {
  await act(async () => { await vi.advanceTimersByTimeAsync(ms) })
}
