/** Turns a response body into template data: parsed JSON for JSON content types, else text. */

export type DecodedBody = { ok: true; data: unknown } | { ok: false; message: string }

const JSON_TYPE = /^(?:application\/(?:[\w.+-]+\+)?json|text\/json)$/

export function decodeBody(body: Buffer, contentType: string | undefined): DecodedBody {
  const [mime = '', ...params] = (contentType ?? '').split(';').map((s) => s.trim().toLowerCase())
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '')
  const text = decodeText(body, charset)
  if (!JSON_TYPE.test(mime)) return { ok: true, data: text }
  if (text.trim() === '') return { ok: true, data: null }
  try {
    return { ok: true, data: JSON.parse(text) }
  } catch {
    return { ok: false, message: 'the response says it is JSON but does not parse as JSON' }
  }
}

function decodeText(body: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(body)
  } catch {
    return new TextDecoder('utf-8').decode(body) // unknown charset label
  }
}
