/**
 * A small, total MIME reader for the reports the bounce mailbox reads (RFC 2045/2046, RFC 6522
 * multipart/report): header fields, Content-Type and its parameters, the parts of a multipart,
 * bodies decoded from base64 or quoted-printable. It never throws and is bounded (depth, parts,
 * bytes), so a malformed or hostile message yields less, never a crash. Header-block bodies
 * (message/delivery-status, message/feedback-report, text/rfc822-headers) are read with
 * `parseHeaderBlock`.
 */

export interface HeaderField {
  /** Lower case. */
  name: string
  /** Unfolded, trimmed; raw UTF-8 (RFC 6532) decoded. */
  value: string
}

export interface MimePart {
  headers: HeaderField[]
  /** Lower case `type/subtype`; `text/plain` when absent or unreadable (RFC 2045 §5.2). */
  contentType: string
  /** Content-Type parameters, names lower case. */
  params: Record<string, string>
  /** The decoded body (for a multipart: its raw body). */
  body: Buffer
  /** The parts of a multipart; empty otherwise. */
  parts: MimePart[]
}

const MAX_DEPTH = 8
const MAX_PARTS = 64

/** The first value of a header field (case-insensitive name), or undefined. */
export function headerOf(headers: readonly HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase()
  return headers.find((h) => h.name === lower)?.value
}

/** Every value of a header field. */
export function headersOf(headers: readonly HeaderField[], name: string): string[] {
  const lower = name.toLowerCase()
  return headers.filter((h) => h.name === lower).map((h) => h.value)
}

/** Reads a whole message (or a message/rfc822 body). */
export function parseMime(raw: Buffer): MimePart {
  const budget = { parts: 0 }
  return parsePart(raw.toString('latin1'), 0, budget)
}

/**
 * Header fields of a block of lines (a message's header, a message/delivery-status group):
 * unfolds continuation lines; stops at the first empty line. `rest` is what follows it.
 */
export function parseHeaderBlock(text: string): { headers: HeaderField[]; rest: string } {
  const headers: HeaderField[] = []
  let pos = 0
  let current: { name: string; value: string } | undefined
  const flush = () => {
    if (current) headers.push({ name: current.name, value: utf8(current.value.trim()) })
    current = undefined
  }
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos)
    const end = nl < 0 ? text.length : nl
    const line = text.slice(pos, end).replace(/\r$/, '')
    pos = nl < 0 ? text.length : nl + 1
    if (line === '') {
      flush()
      return { headers, rest: text.slice(pos) }
    }
    if ((line[0] === ' ' || line[0] === '\t') && current) {
      current.value += ` ${line.trim()}`
      continue
    }
    flush()
    const colon = line.indexOf(':')
    // A line that is no field (no colon, or a name with spaces) is skipped, as mail readers do.
    if (colon > 0 && /^[!-9;-~]+$/.test(line.slice(0, colon).trimEnd())) {
      current = { name: line.slice(0, colon).trimEnd().toLowerCase(), value: line.slice(colon + 1) }
    }
  }
  flush()
  return { headers, rest: '' }
}

/** `type/subtype; a=b; c="d e"` → the lower-case type and the parameters (RFC 2045 §5.1, RFC 2231 not decoded). */
export function parseContentType(value: string | undefined): {
  type: string
  params: Record<string, string>
} {
  const params: Record<string, string> = {}
  if (value === undefined) return { type: 'text/plain', params }
  const semi = value.indexOf(';')
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase()
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g
  for (const m of value.slice(Math.max(semi, 0)).matchAll(re)) {
    const name = m[1]?.toLowerCase()
    if (name !== undefined) params[name] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '')
  }
  return { type: /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : 'text/plain', params }
}

function parsePart(text: string, depth: number, budget: { parts: number }): MimePart {
  budget.parts++
  const { headers, rest } = parseHeaderBlock(text)
  const { type, params } = parseContentType(headerOf(headers, 'content-type'))
  const part: MimePart = { headers, contentType: type, params, body: Buffer.alloc(0), parts: [] }
  const boundary = params.boundary
  if (type.startsWith('multipart/') && boundary !== undefined && boundary !== '' && depth < MAX_DEPTH) {
    part.body = Buffer.from(rest, 'latin1')
    for (const chunk of splitMultipart(rest, boundary)) {
      if (budget.parts >= MAX_PARTS) break
      part.parts.push(parsePart(chunk, depth + 1, budget))
    }
    return part
  }
  part.body = decodeBody(rest, headerOf(headers, 'content-transfer-encoding'))
  return part
}

/** The bodies between `--boundary` lines, up to the closing `--boundary--` (or the end). */
function splitMultipart(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`
  const chunks: string[] = []
  let start = -1
  let pos = 0
  while (pos <= body.length) {
    const nl = body.indexOf('\n', pos)
    const end = nl < 0 ? body.length : nl
    const line = body.slice(pos, end).replace(/\r$/, '').trimEnd()
    if (line === delimiter || line === `${delimiter}--`) {
      // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
      if (start >= 0) chunks.push(body.slice(start, pos).replace(/\r?\n$/, ''))
      if (line.endsWith('--') && line !== delimiter) return chunks
      start = nl < 0 ? body.length : nl + 1
    }
    if (nl < 0) break
    pos = nl + 1
  }
  if (start >= 0 && start < body.length) chunks.push(body.slice(start))
  return chunks
}

function decodeBody(body: string, encoding: string | undefined): Buffer {
  const e = encoding?.trim().toLowerCase()
  if (e === 'base64') return Buffer.from(body.replace(/[^A-Za-z0-9+/]/g, ''), 'base64')
  if (e === 'quoted-printable') {
    const text = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
    return Buffer.from(text, 'latin1')
  }
  return Buffer.from(body, 'latin1')
}

/** Header bytes were read as latin1: raw UTF-8 in them (RFC 6532) becomes text again. */
function utf8(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range itself
  if (/^[\x00-\x7f]*$/.test(value)) return value
  const decoded = Buffer.from(value, 'latin1').toString('utf8')
  return decoded.includes('\ufffd') ? value : decoded
}
