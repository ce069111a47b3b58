/**
 * Admin API bodies (templates, blocks, segments, campaigns, triggers, profiles) are definitions a
 * person wrote. Two things are never meant in one and are refused here, the same way on every
 * backend, naming where they are:
 * - a NUL character (U+0000): PostgreSQL text and jsonb cannot hold it. (Events are different: the
 *   collector accepts them and the stores turn NUL into U+FFFD.)
 * - nesting deeper than MAX_ADMIN_BODY_DEPTH: every later step (condition compiler, JSON.stringify,
 *   jsonb) recurses, and a body nested 100,000 deep once overflowed the stack here (a 500).
 * The walk keeps its own stack, so no depth of input can overflow the call stack.
 */
import type { FastifyInstance } from 'fastify'
import { InkError } from '../core/errors.ts'

/** Deepest admin body accepted; the root object is level 1. Real definitions stay under ~10. */
export const MAX_ADMIN_BODY_DEPTH = 64

interface Node {
  value: unknown
  parent: Node | undefined
  /** This node's step from its parent: `[3]`, `.key` or `["odd key"]`. */
  step: string
  depth: number
}

const keyStep = (key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)

/** The JSON path of a node, built only once something is found (paths of every node would be O(n·depth)). */
function pathOf(node: Node): string {
  const steps: string[] = []
  for (let n: Node | undefined = node; n; n = n.parent) steps.push(n.step)
  return `$${steps.reverse().join('')}`
}

type Finding = { kind: 'nul' | 'deep'; path: string }

/** The first NUL (key or value) or over-deep container, in document order, if any. */
function inspect(value: unknown, maxDepth: number): Finding | undefined {
  const stack: Node[] = [{ value, parent: undefined, step: '', depth: 1 }]
  while (stack.length > 0) {
    const node = stack.pop() as Node
    const v = node.value
    if (typeof v === 'string') {
      if (v.includes('\0')) return { kind: 'nul', path: pathOf(node) }
      continue
    }
    if (typeof v !== 'object' || v === null) continue
    if (node.depth > maxDepth) return { kind: 'deep', path: pathOf(node) }
    const children: Node[] = []
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++)
        children.push({ value: v[i], parent: node, step: `[${i}]`, depth: node.depth + 1 })
    } else {
      for (const [key, item] of Object.entries(v)) {
        const child = { value: item, parent: node, step: keyStep(key), depth: node.depth + 1 }
        if (key.includes('\0')) return { kind: 'nul', path: pathOf(child) }
        children.push(child)
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as Node)
  }
  return undefined
}

/** The JSON path of the first string (key or value) holding U+0000 in `value`, if any. */
export function nulPath(value: unknown): string | undefined {
  const found = inspect(value, Number.POSITIVE_INFINITY)
  return found?.path
}

/**
 * Refuses, before validation, any body in this scope nested deeper than MAX_ADMIN_BODY_DEPTH
 * (400 INK_ERR_BODY_TOO_DEEP) or holding U+0000 (400 INK_ERR_NUL_CHARACTER), and a path parameter
 * or query value holding U+0000 (`%00` in the URL): PostgreSQL refused such an id or filter with a
 * 500 where SQLite answered 404 (found by a review).
 */
export function refuseNulCharacters(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    for (const [where, values] of [
      ['path parameter', req.params],
      ['query parameter', req.query],
    ] as const) {
      if (values === null || typeof values !== 'object') continue
      for (const [name, value] of Object.entries(values)) {
        if ((Array.isArray(value) ? value : [value]).some((v) => typeof v === 'string' && v.includes('\0')))
          throw new InkError(
            'INK_ERR_NUL_CHARACTER',
            `the ${where} "${name}" contains a NUL character (U+0000, %00 in a URL); no id or filter holds one, remove it`,
            { details: { path: `${where === 'path parameter' ? 'params' : 'query'}.${name}` } },
          )
      }
    }
    if (req.body === undefined || req.body === null) return
    const found = inspect(req.body, MAX_ADMIN_BODY_DEPTH)
    if (found?.kind === 'deep')
      throw new InkError(
        'INK_ERR_BODY_TOO_DEEP',
        `${found.path} is nested deeper than ${MAX_ADMIN_BODY_DEPTH} levels; definitions never need that many, flatten it`,
        { details: { path: found.path } },
      )
    if (found?.kind === 'nul')
      throw new InkError(
        'INK_ERR_NUL_CHARACTER',
        `${found.path} contains a NUL character (U+0000), which cannot be stored; remove it (in JSON it is written \\u0000)`,
        { details: { path: found.path } },
      )
  })
}
