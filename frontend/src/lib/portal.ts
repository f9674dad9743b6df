// "Manage billing": the Worker creates a Paddle customer-portal session for the overseer's own
// customer and the page goes there. The link signs the customer in, so it is used at once and
// kept nowhere.
import { api } from '../api/client'

/** Where the browser goes; replaced in tests (jsdom cannot navigate). */
export type Go = (url: string) => void

const assign: Go = (url) => { window.location.assign(url) }

/** Opens the billing portal; rejects with the API's error (e.g. `no_billing_customer`). */
export async function openBillingPortal (go: Go = assign): Promise<void> {
  const { url } = await api.portal()
  // Only a web link: never a `javascript:` or other scheme, whatever the answer says.
  const parsed = new URL(url)
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('The billing portal link is not a web address.')
  go(parsed.href)
}
