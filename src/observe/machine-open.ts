/**
 * Whether an open was most likely made by a machine rather than a person reading: an image proxy
 * that prefetches every image on delivery (Apple Mail Privacy Protection, Gmail's and Yahoo's image
 * proxies prefetch or cache), a security scanner following every URL, or a link preview bot. Such
 * opens are still recorded, but counted apart (metrics `machine="true"`, analytics `machineOpens`)
 * so open rates are not inflated by them.
 *
 * Decided from the User-Agent alone here; callers that know when the message was sent may also call
 * an open within `MACHINE_OPEN_WINDOW_MS` of the send a machine open (scanners open on receipt).
 */

/** An open this soon after the send is treated as a machine open by callers that know the send time. */
export const MACHINE_OPEN_WINDOW_MS = 2_000

/** User-Agent fragments of proxies, scanners and preview bots (case-insensitive). */
const MACHINE_AGENTS = [
  'googleimageproxy', // Gmail image proxy (caches on first open)
  'yahoomailproxy', // Yahoo Mail image proxy
  'ymailproxy',
  'bingpreview',
  'barracuda',
  'mimecast',
  'proofpoint',
  'symantec',
  'messagelabs',
  'microsoft office protocol discovery',
  'python-requests',
  'curl/',
  'wget/',
  'go-http-client',
  'java/',
  'okhttp',
  'headlesschrome',
  'bot',
  'crawler',
  'spider',
  'preview',
]

/**
 * Apple Mail Privacy Protection fetches through Apple's proxies with a bare `Mozilla/5.0` User-Agent
 * (no platform, no engine): a real mail client always says more.
 */
const BARE_MOZILLA = /^mozilla\/5\.0$/i

export function isMachineOpen(userAgent: string | undefined | null): boolean {
  if (userAgent === undefined || userAgent === null) return false
  const ua = userAgent.trim()
  if (ua === '') return true
  if (BARE_MOZILLA.test(ua)) return true
  const lower = ua.toLowerCase()
  return MACHINE_AGENTS.some((fragment) => lower.includes(fragment))
}
