// The Resources page in a real browser (issue 10; docs/resources.md "Protected resources"):
// headless Chromium against `wrangler dev` serving the built frontend and the real wasm API. An
// overseer signs up (FREE: one resource), opens Resources from the navigation, registers a
// resource by keyboard with two scope rows, sees its metadata URL and the WWW-Authenticate line,
// fetches the RFC 9728 document from that URL, finds the form closed by the tier limit, edits the
// resource, and deletes it after the confirmation. Same checks as the other journeys: no console
// errors, labelled controls, keyboard path, phone width.

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { assertClean, focused, launchBrowser, nav, openPage, shot, tabTo } from './lib/browser.mjs'
import { originFromEnv } from './lib/agentid.mjs'

const BASE = originFromEnv('AGENT_ID_BASE_URL', { required: true })
const PASSWORD = 'correct horse battery staple'

let browser
before(async () => { browser = await launchBrowser() })
after(async () => { await browser?.close() })

test('overseer: resources: register, metadata document, limit, edit, delete', async () => {
  const { context, page, seen } = await openPage(browser, BASE)
  const tag = randomUUID().slice(0, 8)
  const uri = `https://mcp-${tag}.example.test/mcp`
  try {
    await page.goto('/signup', { waitUntil: 'networkidle' })
    await page.getByLabel('Your name').fill('Resource Overseer')
    await page.getByLabel('E-mail').fill(`browser-resources-${tag}@example.test`)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.waitForURL(`${BASE}/dashboard`)

    await nav(page, 'Resources').click()
    await page.getByRole('heading', { level: 1, name: 'Protected resources' }).waitFor()
    await page.getByText('No resources yet.').waitFor()
    assert.equal(await page.getByRole('meter', { name: 'Protected resources' }).getAttribute('aria-valuetext'), '0 / 1')

    // Register by keyboard alone: URI, name, first scope row, then a second row.
    await tabTo(page, '#resource-uri', 40)
    await page.keyboard.type(uri)
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'resource-name')
    await page.keyboard.type('Browser MCP')
    await page.keyboard.press('Tab')
    await page.keyboard.type('tools:read')
    await page.keyboard.press('Tab')
    await page.keyboard.type('List tools')
    await page.getByRole('button', { name: 'Add a scope' }).focus()
    await page.keyboard.press('Enter')
    await page.getByLabel('Scope 2 name').fill('tools:call')
    await shot(page, 'resources-form')
    await page.getByLabel('Scope 2 name').press('Enter')

    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Browser MCP' }) })
    const shown = card.getByTestId('metadata-url')
    await shown.waitFor()
    const metadataUrl = (await shown.textContent()).trim()
    assert.match(metadataUrl, new RegExp(`^${BASE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/v1/resources/[0-9a-f-]{36}/oauth-protected-resource$`))
    await card.getByText(`WWW-Authenticate: Bearer resource_metadata="${metadataUrl}"`).waitFor()
    await card.getByRole('button', { name: `Copy metadata URL: ${metadataUrl}` }).waitFor()

    // The document at that URL is public RFC 9728 metadata naming this server.
    const doc = await page.request.get(metadataUrl)
    assert.equal(doc.status(), 200)
    assert.equal(doc.headers()['access-control-allow-origin'], '*')
    assert.deepEqual(await doc.json(), {
      resource: uri,
      authorization_servers: [BASE],
      scopes_supported: ['tools:read', 'tools:call', 'offline_access'],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: ['EdDSA', 'ES256'],
      dpop_bound_access_tokens_required: false,
      resource_name: 'Browser MCP',
    })

    // FREE allows one resource: the form says so and cannot be sent.
    await page.getByText('Your tier’s resource limit is reached.', { exact: false }).waitFor()
    assert.equal(await page.getByRole('button', { name: 'Register resource' }).isDisabled(), true)
    await shot(page, 'resources')

    // Edit: rename, require DPoP.
    await card.getByRole('button', { name: 'Edit' }).click()
    const form = page.getByRole('form', { name: 'Edit Browser MCP' })
    await form.getByLabel('Name', { exact: true }).fill('Renamed MCP')
    await form.getByRole('checkbox', { name: /DPoP-bound/ }).check()
    await form.getByRole('button', { name: 'Save changes' }).click()
    await page.getByRole('heading', { name: 'Renamed MCP' }).waitFor()
    const edited = await (await page.request.get(metadataUrl)).json()
    assert.equal(edited.resource_name, 'Renamed MCP')
    assert.equal(edited.dpop_bound_access_tokens_required, true)

    await page.setViewportSize({ width: 375, height: 800 })
    await shot(page, 'resources-mobile')
    await page.setViewportSize({ width: 1280, height: 900 })

    // Delete after the confirmation; the document is gone with it.
    await page.getByRole('button', { name: 'Delete' }).click()
    await page.getByRole('button', { name: 'Yes, delete' }).click()
    await page.getByText('No resources yet.').waitFor()
    assert.equal((await page.request.get(metadataUrl)).status(), 404)

    assertClean(seen, [])
  } finally {
    await context.close()
  }
})
