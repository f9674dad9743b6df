// The web app in a real browser: headless Debian Chromium driven by playwright-core, against
// `wrangler dev` serving the built frontend and the real wasm API (scripts/test.sh starts it).
//
// Two journeys, each in a fresh browser context (own cookies, own profile):
//   1. An overseer signs up (by keyboard), upgrades through Paddle Checkout (the test posts the
//      signed webhook Paddle would send), claims an agent (the test plays the agent over HTTP with
//      a real DPoP proof), registers a client with a key made by the browser's WebCrypto, blocks
//      that client for the agent, finds it in the activity trail, logs out and back in.
//   2. An anonymous sponsor shadow-claims an agent: the agent confirms, the sponsor pays, the
//      payment webhook arrives, the page shows success.
// Paddle.js cannot be fetched here (no internet, and no real checkout in tests): the request for
// it is answered with a recorder that captures what the app hands to Paddle.Checkout.open, which
// the test then sends back exactly as Paddle would, in a signed webhook. Every other request that
// leaves the server's origin fails the test. Screenshots of each main page go to
// $AGENT_ID_TEST_OUTPUT/screenshots (test-output/screenshots by default).

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey, randomUUID } from 'node:crypto'
import {
  Agent, boundedFetch, DEV_VARS, deliverWebhook, originFromEnv, subscriptionActivated, transactionCompleted,
} from './lib/agentid.mjs'
import {
  assertClean, focused, launchBrowser, nav, openPage as openPageAt, shot, tabTo,
} from './lib/browser.mjs'

const BASE = originFromEnv('AGENT_ID_BASE_URL', { required: true })
const PASSWORD = 'correct horse battery staple'

let browser
before(async () => { browser = await launchBrowser() })
after(async () => { await browser?.close() })
const openPage = () => openPageAt(browser, BASE)

/** Waits for the app to call Paddle.Checkout.open and returns what it passed. */
async function checkoutOpened (page, n = 1) {
  await page.waitForFunction((k) => window.__paddle?.opens.length === k, n)
  return page.evaluate(() => ({ ...window.__paddle, callback: undefined }))
}

async function firePaddleEvent (page, name) {
  await page.evaluate((n) => window.__paddle.callback({ name: n }), name)
}

test('overseer: sign up, upgrade, claim, register a client, block it, see activity, log out', async () => {
  const http = boundedFetch(BASE)
  const { context, page, seen } = await openPage()
  const email = `browser-${randomUUID().slice(0, 8)}@example.test`
  try {
    // Home, then sign-up by keyboard alone, with the weak-password message first.
    await page.goto('/', { waitUntil: 'networkidle' })
    await page.getByRole('heading', { level: 1, name: 'Identity for AI agents' }).waitFor()
    assert.equal(await page.getByTestId('api-base').textContent(), `${BASE}/v1`)
    await shot(page, 'home')
    await page.getByRole('link', { name: 'Create an account' }).first().click()
    await page.getByRole('heading', { level: 1, name: 'Create an account' }).waitFor()
    await tabTo(page, '#signup-name')
    await page.keyboard.type('Browser Overseer')
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'signup-email')
    await page.keyboard.type(email)
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'signup-password')
    await page.keyboard.type('short')
    await page.keyboard.press('Enter')
    await page.getByRole('alert').filter({ hasText: 'Use at least 8 characters.' }).waitFor()
    assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true')
    await shot(page, 'signup')
    await page.keyboard.press('Control+A')
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press('Enter')
    await page.waitForURL(`${BASE}/dashboard`)
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor()
    assert.equal(await page.getByTestId('agents-use').textContent(), '0 / 0')
    assert.ok(await page.getByRole('button', { name: 'Start claim' }).isDisabled(), 'FREE tier cannot claim')
    // The session is the HttpOnly cookie only: nothing script-readable.
    const cookies = await context.cookies(BASE)
    const session = cookies.find((c) => c.name === '__Host-agentid_session')
    assert.ok(session?.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies))
    const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie]))
    assert.ok(!stored.includes(session.value), `session id readable by scripts: ${stored}`)
    assert.equal(await page.evaluate(() => document.cookie), '')
    const me = await (await page.request.get('/v1/overseers/me')).json()
    const overseerId = me.overseer.id

    // Upgrade to PRO: the app opens Paddle Checkout with the server-signed custom data; Paddle
    // (played by the test) confirms with a signed webhook.
    await nav(page, 'Subscription').click()
    await page.getByRole('heading', { level: 1, name: 'Subscription' }).waitFor()
    assert.equal(await page.getByTestId('current-tier').textContent(), 'FREE')
    await page.getByRole('button', { name: 'Upgrade to PRO' }).click()
    const paddle = await checkoutOpened(page)
    assert.equal(paddle.environment, 'sandbox')
    assert.equal(paddle.token, DEV_VARS.PADDLE_CLIENT_TOKEN)
    const [open] = paddle.opens
    assert.deepEqual(open.items, [{ priceId: DEV_VARS.PADDLE_PRICE_ID_PRO, quantity: 1 }])
    assert.deepEqual(open.customer, { email })
    assert.equal(open.customData.overseer_id, overseerId)
    assert.equal(open.customData.tier, 'PRO')
    assert.match(open.customData.link_sig, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(open.settings.successUrl, `${BASE}/billing/success`)
    await deliverWebhook(BASE, http, subscriptionActivated(open.items[0].priceId, open.customData))
    await firePaddleEvent(page, 'checkout.completed')
    await page.waitForURL(`${BASE}/billing/success`)
    assert.equal(await page.getByTestId('success-tier').textContent(), 'PRO')
    await shot(page, 'billing-success')
    await nav(page, 'Subscription').click()
    await page.getByTestId('current-tier').filter({ hasText: 'PRO' }).waitFor()
    assert.match(await page.getByTestId('subscription-line').textContent(), /^Renews on /)
    await page.getByRole('meter', { name: 'Agents' }).waitFor()
    await shot(page, 'subscription')

    // Claim an agent by keyboard; the agent accepts with a DPoP proof.
    const agent = await Agent.register(BASE, http, 'Browser Agent', 'claimed in the browser test')
    await nav(page, 'Dashboard').click()
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor()
    await page.getByTestId('agents-use').filter({ hasText: '0 / 5' }).waitFor()
    await tabTo(page, '#claim-agent-id')
    await page.keyboard.type(agent.id)
    await page.keyboard.press('Enter')
    const challengeId = await page.getByTestId('claim-challenge-id').textContent()
    assert.equal(await page.getByTestId('claim-overseer-id').textContent(), overseerId)
    const instruction = await page.getByTestId('claim-instruction').textContent()
    assert.ok(instruction.includes(`${BASE}/v1/agents/claim/complete/${challengeId}`), instruction)
    assert.ok(instruction.includes(JSON.stringify({ overseer_id: overseerId })), instruction)
    await shot(page, 'claim-pending')
    const accepted = await agent.completeClaim(challengeId, overseerId)
    assert.equal(accepted.status, 'completed')
    await page.getByText('Claim accepted').waitFor() // by the back-off poll, no click
    await page.getByRole('heading', { level: 3, name: 'Browser Agent' }).waitFor()
    await page.getByTestId('agents-use').filter({ hasText: '1 / 5' }).waitFor()
    await shot(page, 'dashboard')

    // Register a client with a key pair made by the browser's WebCrypto; the private key shown
    // once must pair with the public key the server stored.
    await nav(page, 'Clients').click()
    await page.getByRole('heading', { level: 1, name: 'OAuth clients' }).waitFor()
    await page.getByLabel('Client name').fill('Browser App')
    await page.getByLabel('Redirect URIs (one per line)').fill('https://app.example.test/callback')
    await page.getByRole('button', { name: 'Register client' }).click()
    await page.getByRole('heading', { name: 'Save the private key of Browser App' }).waitFor()
    const pem = await page.getByTestId('private-key').inputValue()
    const { clients } = await (await page.request.get('/v1/clients/list/overseer')).json()
    assert.equal(clients.length, 1)
    const client = clients[0]
    const derived = createPublicKey(createPrivateKey(pem)).export({ format: 'jwk' })
    assert.equal(derived.x, client.public_key, 'the downloaded private key pairs with the registered public key')
    const download = page.getByRole('link', { name: 'Download key file' })
    assert.equal(await download.getAttribute('download'), `agent-id-client-${client.id}.json`)
    await shot(page, 'clients-key-once')
    await page.getByRole('button', { name: 'I have saved the private key' }).click()
    await page.getByRole('heading', { level: 3, name: 'Browser App' }).waitFor()
    assert.equal(await page.getByTestId('private-key').count(), 0, 'the private key is gone once dismissed')
    await page.getByRole('meter', { name: 'Enabled clients in your pool' }).waitFor()
    await shot(page, 'clients')

    // Block the client for the agent.
    await nav(page, 'Dashboard').click()
    await page.getByText('Blocked clients (0)').click()
    await page.getByLabel('Block a client for Browser Agent (client id)').fill(client.id)
    await page.getByRole('button', { name: 'Block client' }).click()
    await page.getByRole('button', { name: 'Unblock Browser App' }).waitFor()
    const blocked = await (await page.request.get(`/v1/overseers/agents/${agent.id}/blocked-clients`)).json()
    assert.deepEqual(blocked.blocked_clients.map((b) => b.client_id), [client.id])

    // The activity trail shows it.
    await nav(page, 'Activity').click()
    await page.getByRole('heading', { level: 1, name: 'Activity' }).waitFor()
    await page.locator('tr[data-event-type="client.blocked"]').waitFor()
    for (const type of ['claim.completed', 'client.registered', 'overseer.registered']) {
      assert.ok(await page.locator(`tr[data-event-type="${type}"]`).count() >= 1, `${type} in the activity trail`)
    }
    assert.ok(await page.locator('tr[data-event-type^="subscription."]').count() >= 1, 'the upgrade in the activity trail')
    await shot(page, 'activity')

    // Log out: the cookie is gone server-side too; wrong password is told clearly; log back in.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(`${BASE}/login`)
    await page.getByText('You are logged out.').waitFor()
    assert.equal((await page.request.get('/v1/overseers/me')).status(), 401)
    await page.goto('/dashboard')
    await page.waitForURL(`${BASE}/login`)
    await page.getByLabel('E-mail').fill(email)
    await page.getByLabel('Password').fill('not the password')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('alert').filter({ hasText: 'Wrong e-mail or password.' }).waitFor()
    await shot(page, 'login')
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.waitForURL(`${BASE}/dashboard`)
    await page.getByRole('heading', { level: 3, name: 'Browser Agent' }).waitFor()

    // Responsive: the main pages fit a phone's width.
    await page.setViewportSize({ width: 375, height: 800 })
    await shot(page, 'dashboard-mobile')
    for (const [link, heading] of [['Clients', 'OAuth clients'], ['Subscription', 'Subscription'], ['Activity', 'Activity']]) {
      await nav(page, link).click()
      await page.getByRole('heading', { level: 1, name: heading }).waitFor()
      await page.waitForLoadState('networkidle')
      await shot(page, `${link.toLowerCase()}-mobile`)
    }

    assertClean(seen, [/^POST \/v1\/overseers\/login 401$/])
  } finally {
    await context.close()
  }
})

test('sponsor: shadow claim from instructions through payment to success', async () => {
  const http = boundedFetch(BASE)
  const agent = await Agent.register(BASE, http, 'Sponsored Agent', 'shadow-claimed in the browser test')
  const { context, page, seen } = await openPage()
  try {
    await page.goto(`/malice/${agent.id}`)
    const challengeId = await page.getByTestId('shadow-challenge-id').textContent()
    const shadowId = await page.getByTestId('shadow-overseer-id').textContent()
    const instruction = await page.getByTestId('shadow-instruction').textContent()
    assert.ok(instruction.includes(`${BASE}/v1/agents/claim/complete/${challengeId}`), instruction)
    assert.ok(instruction.includes(JSON.stringify({ overseer_id: shadowId })), instruction)
    assert.match(await page.getByTestId('countdown').textContent(), /^(1:00:00|59:\d\d)$/)
    await shot(page, 'shadow-instructions')

    // The agent confirms; the sponsor checks by hand and gets the payment step.
    await agent.completeClaim(challengeId, shadowId)
    await page.getByRole('button', { name: 'Check now' }).click()
    await page.getByRole('button', { name: 'Pay with Paddle' }).waitFor()
    assert.match(await page.getByTestId('shadow-price').textContent(), /19/)
    await shot(page, 'shadow-payment')
    await page.getByRole('button', { name: 'Pay with Paddle' }).click()
    const [open] = (await checkoutOpened(page)).opens
    assert.deepEqual(open.items, [{ priceId: DEV_VARS.PADDLE_PRICE_ID_SHADOW, quantity: 1 }])
    assert.equal(open.customer, undefined, 'the sponsor enters their own e-mail')
    assert.equal(open.customData.is_shadow_claim, true)
    assert.equal(open.customData.challenge_id, challengeId)
    assert.equal(open.customData.agent_id, agent.id)
    assert.equal(open.customData.shadow_overseer_id, shadowId)
    await deliverWebhook(BASE, http, transactionCompleted(open.items[0].priceId, open.customData))
    await firePaddleEvent(page, 'checkout.completed')
    await page.getByText('Thank you for sponsoring it.').waitFor()
    await shot(page, 'shadow-success')
    const { subscription } = await agent.me()
    assert.deepEqual([subscription.tier, subscription.source], ['PAID', 'shadow'])
    // Started exactly once, whatever React rendered.
    assert.equal(seen.requests.filter((r) => r === `POST /v1/agents/malice/${agent.id}`).length, 1)

    // An unknown agent gets a clear message.
    const unknown = randomUUID()
    await page.goto(`/malice/${unknown}`)
    await page.getByText('No agent with this id exists.').waitFor()
    assertClean(seen, [new RegExp(`^POST /v1/agents/malice/${unknown} 404$`)])
  } finally {
    await context.close()
  }
})
