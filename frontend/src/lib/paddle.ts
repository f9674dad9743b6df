// Paddle Checkout through Paddle.js v2 (api.md 7.6). The script is loaded only when a checkout is
// opened, from Paddle's CDN, which the Worker's document CSP allows only when billing is configured.
import type { CustomData } from '../api/types'

export const PADDLE_JS_URL = 'https://cdn.paddle.com/paddle/v2/paddle.js'

interface PaddleEvent { name?: string }
interface PaddleGlobal {
  Environment: { set: (env: string) => void }
  Initialize: (opts: { token: string, eventCallback?: (e: PaddleEvent) => void }) => void
  Update?: (opts: { eventCallback?: (e: PaddleEvent) => void }) => void
  Checkout: { open: (opts: Record<string, unknown>) => void }
}

declare global {
  interface Window { Paddle?: PaddleGlobal }
}

let loading: Promise<PaddleGlobal> | null = null
let initializedWith: string | null = null
let currentHandler: ((e: PaddleEvent) => void) | null = null

function loadScript (): Promise<PaddleGlobal> {
  if (window.Paddle) return Promise.resolve(window.Paddle)
  loading ??= new Promise<PaddleGlobal>((resolve, reject) => {
    const script = document.createElement('script')
    script.src = PADDLE_JS_URL
    script.async = true
    script.onload = () => (window.Paddle ? resolve(window.Paddle) : reject(new Error('Paddle.js did not load')))
    script.onerror = () => {
      loading = null
      script.remove()
      reject(new Error('The payment window could not be loaded. Check your connection or content blockers and try again.'))
    }
    document.head.appendChild(script)
  })
  return loading
}

export interface CheckoutRequest {
  environment: 'sandbox' | 'production'
  token: string
  priceId: string
  customData: CustomData
  customer?: { email: string } | { id: string }
  successUrl?: string
  /** Paddle events: `checkout.completed`, `checkout.closed`, … */
  onEvent?: (name: string) => void
}

export async function openCheckout (req: CheckoutRequest): Promise<void> {
  const paddle = await loadScript()
  currentHandler = (e) => { if (e?.name) req.onEvent?.(e.name) }
  if (initializedWith !== req.token) {
    if (req.environment === 'sandbox') paddle.Environment.set('sandbox')
    paddle.Initialize({ token: req.token, eventCallback: (e) => currentHandler?.(e) })
    initializedWith = req.token
  }
  paddle.Checkout.open({
    items: [{ priceId: req.priceId, quantity: 1 }],
    ...(req.customer ? { customer: req.customer } : {}),
    customData: req.customData,
    ...(req.successUrl ? { settings: { successUrl: req.successUrl } } : {}),
  })
}
