// Helpers shared by the browser journeys (e2e/browser*.test.mjs): headless Debian Chromium driven
// by playwright-core, a page that records everything that goes wrong, and the checks every journey
// makes (no console errors, labelled controls, keyboard path, phone width). Moved here from
// browser.test.mjs unchanged so that each slice's journey can live in its own file.

import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

export const OUT = join(process.env.AGENT_ID_TEST_OUTPUT || fileURLToPath(new URL('../../test-output', import.meta.url)), 'screenshots')
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
// Flags for this machine's closed network (no background connections, no updates, no sync).
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
export const PADDLE_JS = 'https://cdn.paddle.com/paddle/v2/paddle.js'

/** Stands in for Paddle.js: records Initialize/Checkout.open; the test fires Paddle's events. */
const PADDLE_RECORDER = `
  window.__paddle = { environment: null, token: null, opens: [], callback: null };
  window.Paddle = {
    Environment: { set: (e) => { window.__paddle.environment = e } },
    Initialize: (o) => { window.__paddle.token = o.token; window.__paddle.callback = o.eventCallback },
    Checkout: { open: (o) => { window.__paddle.opens.push(JSON.parse(JSON.stringify(o))) } },
  };`

/** Headless Chromium with this machine's flags; screenshots go to {@link OUT}. */
export async function launchBrowser () {
  mkdirSync(OUT, { recursive: true })
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 })
}

/**
 * A fresh context and page that watches everything: console errors, page errors, failed and
 * refused (4xx/5xx) requests, and any attempt to leave the server's origin.
 */
export async function openPage (browser, base) {
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 900 } })
  const seen = { consoleErrors: [], pageErrors: [], failed: [], refused: [], offsite: [], requests: [] }
  await context.route('**/*', async (route) => {
    const url = route.request().url()
    if (url === base || url.startsWith(base + '/')) return route.continue()
    if (url === PADDLE_JS) return route.fulfill({ status: 200, contentType: 'text/javascript', body: PADDLE_RECORDER })
    seen.offsite.push(url)
    return route.abort('blockedbyclient')
  })
  const page = await context.newPage()
  page.setDefaultTimeout(15000)
  page.on('console', (m) => { if (m.type() === 'error') seen.consoleErrors.push(m.text()) })
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)))
  page.on('requestfailed', (r) => seen.failed.push(`${r.method()} ${r.url()} ${r.failure()?.errorText}`))
  page.on('request', (r) => seen.requests.push(`${r.method()} ${new URL(r.url()).pathname}`))
  page.on('response', (r) => {
    if (r.status() >= 400) seen.refused.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`)
  })
  return { context, page, seen }
}

/**
 * The page stayed clean: no script errors, no network failures, nothing fetched off-site, and the
 * only refused requests are the API answers the journey provoked on purpose (Chromium logs each
 * as a "Failed to load resource" console error, which are therefore matched one to one).
 */
export function assertClean (seen, expectedRefusals) {
  assert.deepEqual(seen.pageErrors, [], 'uncaught errors in the page')
  assert.deepEqual(seen.offsite, [], 'requests outside the server origin')
  assert.deepEqual(seen.failed.filter((f) => !f.includes(PADDLE_JS)), [], 'failed requests')
  for (const r of seen.refused) {
    assert.ok(expectedRefusals.some((re) => re.test(r)), `unexpected refused request: ${r}`)
  }
  const resourceErrors = seen.consoleErrors.filter((t) => t.startsWith('Failed to load resource: the server responded with a status of'))
  assert.equal(resourceErrors.length, seen.refused.length, `console: ${JSON.stringify(seen.consoleErrors)}`)
  assert.deepEqual(seen.consoleErrors.filter((t) => !resourceErrors.includes(t)), [], 'console errors')
}

/** Basics checked on every page the journeys screenshot: names for every control, one h1. */
export async function assertAccessibleBasics (page, name) {
  const problems = await page.evaluate(() => {
    const out = []
    for (const el of document.querySelectorAll('input, textarea, select')) {
      if (!(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby'))) {
        out.push(`control without a label: ${el.outerHTML.slice(0, 100)}`)
      }
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (!el.textContent.trim() && !el.getAttribute('aria-label')) out.push(`control without a name: ${el.outerHTML.slice(0, 100)}`)
    }
    const h1 = document.querySelectorAll('h1').length
    if (h1 !== 1) out.push(`${h1} h1 elements`)
    if (!document.documentElement.lang) out.push('no lang on <html>')
    if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1) {
      out.push(`horizontal overflow: ${document.documentElement.scrollWidth} > ${document.documentElement.clientWidth}`)
    }
    return out
  })
  assert.deepEqual(problems, [], `accessibility basics on ${name}`)
}

export async function shot (page, name) {
  await assertAccessibleBasics(page, name)
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true })
}

/** Presses Tab until `selector` has focus: the page is usable by keyboard alone. */
export async function tabTo (page, selector, max = 25) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab')
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return i + 1
  }
  assert.fail(`${selector} not reached with ${max} Tab presses`)
}

/** A link of the main navigation. */
export function nav (page, name) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true })
}

export async function focused (page) {
  return page.evaluate(() => document.activeElement?.id ?? '')
}
