// A loopback stand-in for Paddle's API for the end-to-end suites (issue 12). The e2e servers'
// PADDLE_API_URL points here; it answers the calls the Worker makes the way Paddle does
// (customer creation, cancellation at period end, customer-portal sessions) and records them.
//
//   node e2e/paddle_recorder.mjs PORT API_KEY
//
// Test endpoints (not Paddle's):
//   GET  /__recorder/calls          every Paddle call so far, with what it was answered:
//                                   [{method, path, body, authorized, at, answer: {status, body}}]
//   POST /__recorder/fail           {"status": 500, "count": 1}: the next `count` Paddle calls
//                                   answer `status` with Paddle's error envelope
//   GET  /portal/<session>/<page>   the page a portal link opens: a small HTML page
//
// Only loopback: it listens on 127.0.0.1 and never calls out. The API key is compared, never
// recorded or printed.

import { createServer } from 'node:http'
import { randomBytes, randomUUID } from 'node:crypto'

const [port, apiKey] = process.argv.slice(2)
if (!port || !apiKey) {
  console.error('usage: node paddle_recorder.mjs PORT API_KEY')
  process.exit(2)
}
const origin = `http://127.0.0.1:${port}`
const calls = []
const customers = new Map()
let failures = { status: 0, count: 0 }

const id = (prefix) => `${prefix}_${randomBytes(13).toString('hex')}`
const now = () => new Date().toISOString()

function send (res, status, body, type = 'application/json') {
  if (res.call) res.call.answer = { status, body }
  const text = type === 'application/json' ? JSON.stringify(body) : body
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
  res.end(text)
}

function paddleError (res, status, code, detail) {
  send(res, status, {
    error: { type: 'request_error', code, detail, documentation_url: `https://developer.paddle.com/errors/shared/${code}` },
    meta: { request_id: randomUUID() }
  })
}

function ok (res, status, data) {
  send(res, status, { data, meta: { request_id: randomUUID() } })
}

function createCustomer (res, body) {
  const customer = {
    id: id('ctm'), status: 'active', name: body.name ?? null, email: body.email,
    custom_data: body.custom_data ?? null, locale: 'en', marketing_consent: false,
    created_at: now(), updated_at: now(), import_meta: null
  }
  customers.set(customer.id, customer)
  ok(res, 201, customer)
}

function cancelSubscription (res, subscriptionId) {
  const effective = new Date(Date.now() + 30 * 86_400_000).toISOString()
  ok(res, 200, {
    id: subscriptionId, status: 'active',
    scheduled_change: { action: 'cancel', effective_at: effective, resume_at: null },
    updated_at: now()
  })
}

function portalSession (res, customerId, body) {
  if (!customers.has(customerId)) {
    return paddleError(res, 404, 'entity_not_found', `customer ${customerId} not found`)
  }
  const session = id('cpls')
  const token = randomBytes(16).toString('hex')
  const base = `${origin}/portal/${session}`
  ok(res, 201, {
    id: session,
    customer_id: customerId,
    urls: {
      general: { overview: `${base}/overview?token=${token}` },
      subscriptions: (body.subscription_ids ?? []).map((s) => ({
        id: s,
        cancel_subscription: `${base}/cancel?subscription_id=${s}&token=${token}`,
        update_subscription_payment_method: `${base}/payment-method?subscription_id=${s}&token=${token}`
      }))
    },
    created_at: now()
  })
}

function portalPage (res, session, page) {
  const esc = (s) => s.replace(/[^A-Za-z0-9_-]/g, '')
  send(res, 200, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Paddle customer portal (e2e)</title></head>
<body><h1>Paddle customer portal</h1><p id="session">${esc(session)}</p><p id="page">${esc(page)}</p></body></html>`,
  'text/html; charset=utf-8')
}

const server = createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const url = new URL(req.url, origin)
    const path = url.pathname
    if (req.method === 'GET' && path === '/__recorder/calls') return send(res, 200, calls)
    const raw = Buffer.concat(chunks).toString('utf8')
    let body = null
    try { body = raw ? JSON.parse(raw) : null } catch { body = raw }
    if (req.method === 'POST' && path === '/__recorder/fail') {
      failures = { status: Number(body?.status ?? 500), count: Number(body?.count ?? 1) }
      return send(res, 200, { ok: true })
    }
    const page = path.match(/^\/portal\/([^/]+)\/([^/]+)$/)
    if (req.method === 'GET' && page) return portalPage(res, page[1], page[2])

    const authorized = req.headers.authorization === `Bearer ${apiKey}`
    res.call = { method: req.method, path, body, authorized, at: now() }
    calls.push(res.call)
    if (!authorized) return paddleError(res, 403, 'forbidden', 'invalid API key')
    if (failures.count > 0) {
      failures.count -= 1
      return paddleError(res, failures.status, 'internal_error', 'injected by the e2e recorder')
    }
    let m
    if (req.method === 'POST' && path === '/customers') return createCustomer(res, body ?? {})
    if (req.method === 'POST' && (m = path.match(/^\/subscriptions\/([^/]+)\/cancel$/))) {
      return cancelSubscription(res, m[1])
    }
    if (req.method === 'POST' && (m = path.match(/^\/customers\/([^/]+)\/portal-sessions$/))) {
      return portalSession(res, m[1], body ?? {})
    }
    paddleError(res, 404, 'not_found', `no route ${req.method} ${path}`)
  })
})

server.listen(Number(port), '127.0.0.1', () => {
  console.log(`paddle recorder on ${origin}`)
})
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)))
