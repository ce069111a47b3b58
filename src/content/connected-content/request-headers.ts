/** Request headers of a call, and the redaction that keeps credential values out of messages. */

/** Headers node:http manages itself, or that would let a template change how the call is made. */
const MANAGED = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'accept-encoding',
  'proxy-authorization',
  'proxy-connection',
])

/** Template headers (managed ones dropped) overlaid by the credential's headers, names lower-cased. */
export function prepareHeaders(
  template: Record<string, string>,
  credential: Record<string, string>,
  userAgent: string,
): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': userAgent }
  for (const [name, value] of Object.entries(template)) {
    const lower = name.toLowerCase()
    if (!MANAGED.has(lower)) headers[lower] = value
  }
  for (const [name, value] of Object.entries(credential)) headers[name.toLowerCase()] = value
  return headers
}

/** Replaces every credential value (and each long word of it, e.g. the token after "Bearer") in a text. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  const parts = new Set<string>()
  for (const secret of secrets) {
    if (secret.length > 0) parts.add(secret)
    for (const word of secret.split(/\s+/)) if (word.length >= 8) parts.add(word)
  }
  const ordered = [...parts].sort((a, b) => b.length - a.length)
  return (text) => ordered.reduce((out, secret) => out.split(secret).join('[redacted]'), text)
}
