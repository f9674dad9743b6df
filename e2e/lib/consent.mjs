// Drives the overseer's consent in the browser (issue 10 item 5): the browser opens a client's
// authorization URL without any agent credential, agent-id answers 303 to the web app's consent
// page, the overseer logs in when asked (the page brings it back to the same consent URL), picks
// the agent the client will act as and approves or denies. The page then navigates to the
// client's redirect URI; this returns that URL (with `code` or `error`, `state`, `iss`).
//
// Used by browser-consent.test.mjs and by the MCP SDK journeys. The caller decides what the
// browser may reach at the redirect URI (a route or a loopback server); this only waits for the
// navigation request to start there, so an aborted request still yields its URL.

/** Escapes text for a RegExp. */
const literal = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * Opens `authorizeUrl` in `page`, logs in as the overseer (`email`, `password`) if the app asks,
 * selects the agent named `agentName` and clicks Approve (or Deny with `decision: 'deny'`).
 * Resolves to the `URL` the browser was sent to, which starts with `redirectUri`.
 */
export async function consentInBrowser (page, { authorizeUrl, email, password, agentName, redirectUri, decision = 'approve' }) {
  await page.goto(authorizeUrl)
  // The page first checks the session, then shows either the log-in form or the agent picker.
  const logIn = page.getByRole('button', { name: 'Log in' })
  const picker = page.getByRole('group', { name: 'Act as' })
  await logIn.or(picker).first().waitFor()
  if (await logIn.isVisible()) {
    await page.getByLabel('E-mail').fill(email)
    await page.getByLabel('Password').fill(password)
    await logIn.click()
    await picker.waitFor()
  }
  await page.getByRole('radio', { name: new RegExp(`^${literal(agentName)}$`) }).check()
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.isNavigationRequest() && r.url().startsWith(redirectUri)),
    page.getByRole('button', { name: decision === 'deny' ? 'Deny' : 'Approve', exact: true }).click(),
  ])
  return new URL(request.url())
}
