/**
 * Admin API bodies (templates, blocks, segments, campaigns, triggers, profiles) are definitions a
 * person wrote. A NUL character (U+0000) in one is never meant, and PostgreSQL text and jsonb
 * cannot hold it, so it is refused here, the same way on every backend, naming where it is.
 * (Events are different: the collector accepts them and the stores turn NUL into U+FFFD.)
 */
import type { FastifyInstance } from 'fastify'
import { InkError } from '../core/errors.ts'

/** The JSON path of the first string (key or value) holding U+0000 in `value`, if any. */
export function nulPath(value: unknown, path = '$'): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path : undefined
  if (typeof value !== 'object' || value === null) return undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i], `${path}[${i}]`)
      if (found !== undefined) return found
    }
    return undefined
  }
  for (const [key, item] of Object.entries(value)) {
    const at = `${path}${/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`
    if (key.includes('\0')) return at
    const found = nulPath(item, at)
    if (found !== undefined) return found
  }
  return undefined
}

/** Refuses, with 400 INK_ERR_NUL_CHARACTER, any body in this scope that holds U+0000. */
export function refuseNulCharacters(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined || req.body === null) return
    const at = nulPath(req.body)
    if (at !== undefined)
      throw new InkError(
        'INK_ERR_NUL_CHARACTER',
        `${at} contains a NUL character (U+0000), which cannot be stored; remove it (in JSON it is written \\u0000)`,
        { details: { path: at } },
      )
  })
}
