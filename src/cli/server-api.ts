/**
 * How CLI commands other than `start` and `keys` reach Inkstream: the running server's admin API
 * (--url, else INKSTREAM_URL, else http://INKSTREAM_HOST:INKSTREAM_PORT), with the admin key. They
 * never open the store themselves, so they create nothing, run next to a live server without a
 * second writer, and work the same against the embedded and the scale-out modes.
 */
import type { Config } from '../config.ts'
import { InkError } from '../core/errors.ts'

/**
 * The server's base URL: INKSTREAM_URL, else INKSTREAM_HOST / INKSTREAM_PORT (a wildcard host is
 * reached on loopback).
 */
export function serverUrl(config: Config): string {
  if (config.url !== undefined) return config.url.replace(/\/+$/, '')
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`
}

/** The --url option, checked like INKSTREAM_URL. */
function urlOption(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InkError('INK_ERR_BAD_REQUEST', `--url "${value}" is not a URL (e.g. http://127.0.0.1:8080)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InkError('INK_ERR_BAD_REQUEST', `--url "${value}" must be http:// or https://`)
  return value.replace(/\/+$/, '')
}

/** Why a fetch failed, in words: `connection refused`, `host not found`, … */
function networkReason(err: unknown): string {
  const cause: unknown = err instanceof Error ? err.cause : undefined
  const code = cause instanceof Error ? Reflect.get(cause, 'code') : undefined
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found'
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'connection timed out'
  if (typeof code === 'string') return code
  return cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err)
}

/** Looks the admin key up when a command first needs it: INKSTREAM_ADMIN_KEY, else the server's store. */
export type AdminKeyLookup = () => Promise<string | undefined>

/** A JSON answer of the admin API; `body` is whatever object the server sent. */
export interface ApiAnswer {
  status: number
  body: Record<string, unknown>
}

export interface ServerApi {
  /** The base URL, for messages. */
  readonly server: string
  /** One admin API call; throws INK_ERR_SERVER_UNREACHABLE / INK_ERR_UNAUTHORIZED, else the answer. */
  call(method: string, path: string, body?: unknown): Promise<ApiAnswer>
}

/**
 * `urlFlag` is the command's --url; `adminKey` is INKSTREAM_ADMIN_KEY, else the one in the local data
 * folder, undefined when neither exists (said plainly, before any request).
 */
export function serverApi(
  config: Config,
  urlFlag: string | undefined,
  adminKey: string | undefined,
): ServerApi {
  const server = urlFlag === undefined ? serverUrl(config) : urlOption(urlFlag)
  if (adminKey === undefined)
    throw new InkError(
      'INK_ERR_UNAUTHORIZED',
      `no admin key: set INKSTREAM_ADMIN_KEY to the admin key of the server at ${server} ("inkstream keys --admin" prints it next to the server's data folder)`,
    )
  const call = async (method: string, path: string, body?: unknown): Promise<ApiAnswer> => {
    const headers: Record<string, string> = { authorization: `Bearer ${adminKey}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(`${server}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    } catch (err) {
      throw new InkError(
        'INK_ERR_SERVER_UNREACHABLE',
        `no Inkstream server at ${server} (${networkReason(err)}); start one with "inkstream start", or point to it with --url or INKSTREAM_URL`,
        { cause: err },
      )
    }
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = undefined
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new InkError(
        'INK_ERR_SERVER_UNREACHABLE',
        `the server at ${server} is not an Inkstream server (${method} ${path.split('?')[0]} answered ${res.status} ${res.headers.get('content-type') ?? 'without a content type'}); check --url or INKSTREAM_URL`,
      )
    if (res.status === 401)
      throw new InkError(
        'INK_ERR_UNAUTHORIZED',
        `the server at ${server} does not know this admin key; set INKSTREAM_ADMIN_KEY to its key ("inkstream keys --admin" with the server's INKSTREAM_DATA_DIR prints it)`,
      )
    return { status: res.status, body: parsed as Record<string, unknown> }
  }
  return { server, call }
}

/** `CODE: message` of an error answer, for stderr. */
export const answerError = (a: ApiAnswer): string => `${String(a.body.code)}: ${String(a.body.message)}`
