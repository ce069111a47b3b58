/**
 * Turns a request body into JSON for the collector: content type, gzip (RudderStack's SDK
 * compresses by default), size limit after decompression, strict UTF-8, then JSON.parse.
 */
import { isUtf8 } from 'node:buffer'
import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import { InkError, payloadTooLarge } from '../core/errors.ts'

const gunzipAsync = promisify(gunzip)

/**
 * Content types whose body is parsed as JSON: application/json as Segment's SDKs send it;
 * text/plain, which browsers use to avoid a CORS preflight (and sendBeacon); and
 * application/x-www-form-urlencoded, which RudderStack's Node SDK sends (axios's default for a
 * Buffer) with its gzipped JSON batches. The body must still be JSON.
 */
export const JSON_CONTENT_TYPES = ['application/json', 'text/plain', 'application/x-www-form-urlencoded']

export async function decodeBody(
  body: Buffer,
  encoding: string | undefined,
  limit: number,
  what: string,
): Promise<unknown> {
  let buf = body
  const enc = encoding?.trim().toLowerCase()
  if (enc === 'gzip') {
    try {
      buf = await gunzipAsync(body, { maxOutputLength: limit + 1 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw payloadTooLarge(limit, what)
      throw new InkError('INK_ERR_INVALID_JSON', 'the body is marked gzip but is not valid gzip data', {
        cause: err,
      })
    }
  } else if (enc !== undefined && enc !== '' && enc !== 'identity') {
    throw new InkError(
      'INK_ERR_UNSUPPORTED_ENCODING',
      `Content-Encoding "${enc}" is not supported; send gzip or no encoding`,
    )
  }
  if (buf.length > limit) throw payloadTooLarge(limit, what)
  if (buf.length === 0)
    throw new InkError('INK_ERR_EMPTY_BODY', 'the request body is empty; send a JSON object')
  const text = buf.toString('utf8')
  // Decoding turns every invalid sequence into U+FFFD: only a body whose text has one can be
  // invalid, so the full check (a second pass over the bytes) runs only then.
  if (text.includes('\uFFFD') && !isUtf8(buf))
    throw new InkError('INK_ERR_INVALID_UTF8', 'the request body is not valid UTF-8')
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new InkError(
      'INK_ERR_INVALID_JSON',
      `the request body is not valid JSON: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
}
