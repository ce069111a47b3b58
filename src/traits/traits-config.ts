/**
 * Computed traits are declared in a workspace file (YAML or JSON), validated here; no code needed.
 * See config/traits.default.yaml for the shipped e-commerce set and docs/computed-traits.md.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { invalidConfig } from '../core/errors.ts'

const DURATION = /^(\d+)(m|h|d)$/
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const

export function parseDuration(text: string): number {
  const m = DURATION.exec(text)
  if (!m) throw new Error(`"${text}" is not a duration like 15m, 12h or 30d`)
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
}

const name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a trait name is letters, digits and "_"')
const path = z
  .string()
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'a property path like "price" or "product.id"')
const scalar = z.union([z.string(), z.number(), z.boolean()])
const eventMatch = {
  event: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  eventType: z.enum(['track', 'page', 'screen']).default('track'),
  /**
   * Events whose property at a path equals the value (or one of the values) are not counted, e.g.
   * `{ open_kind: esp }`: an ESP's own open tracking reports the opens our pixel counts.
   */
  except: z
    .record(path, z.union([scalar, z.array(scalar).min(1)]))
    .refine((r) => Object.keys(r).length > 0, 'name at least one property path')
    .optional(),
}
const window = z
  .string()
  .refine((s) => DURATION.test(s), 'a window like 15m, 12h or 30d')
  .optional()
const valueSource = { property: path.optional(), pick: z.array(path).min(1).optional() }

const traitDef = z.discriminatedUnion('type', [
  z.object({ name, type: z.literal('trait'), trait: z.string().min(1) }).strict(),
  z.object({ name, type: z.literal('last'), ...eventMatch, ...valueSource }).strict(),
  z.object({ name, type: z.literal('first'), ...eventMatch, ...valueSource }).strict(),
  z
    .object({
      name,
      type: z.literal('lastN'),
      ...eventMatch,
      ...valueSource,
      n: z.number().int().min(1).max(100),
      uniqueBy: path.optional(),
    })
    .strict(),
  z.object({ name, type: z.literal('count'), ...eventMatch, window }).strict(),
  z.object({ name, type: z.literal('sum'), ...eventMatch, property: path, window }).strict(),
  z.object({ name, type: z.literal('min'), ...eventMatch, property: path, window }).strict(),
  z.object({ name, type: z.literal('max'), ...eventMatch, property: path, window }).strict(),
  z.object({ name, type: z.literal('location') }).strict(),
])

const traitsFile = z
  .object({ traits: z.array(traitDef) })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>()
    file.traits.forEach((t, i) => {
      if (seen.has(t.name))
        ctx.addIssue({
          code: 'custom',
          path: ['traits', i, 'name'],
          message: `"${t.name}" is declared twice`,
        })
      seen.add(t.name)
      // uniqueBy reads the kept value: with pick, only the picked paths are in it. A uniqueBy outside
      // them would key every item alike and keep only the newest one.
      if (
        t.type === 'lastN' &&
        t.uniqueBy !== undefined &&
        t.pick !== undefined &&
        !t.pick.includes(t.uniqueBy)
      )
        ctx.addIssue({
          code: 'custom',
          path: ['traits', i, 'uniqueBy'],
          message: `"${t.uniqueBy}" is not picked: add it to pick (${t.pick.join(', ')}), or uniqueBy would keep only one item`,
        })
    })
  })

export type TraitDef = z.output<typeof traitDef>
export type TraitsConfig = z.output<typeof traitsFile>

export const DEFAULT_TRAITS_FILE = fileURLToPath(new URL('../../config/traits.default.yaml', import.meta.url))

/** Validates a parsed traits document; every problem is reported at once. */
export function parseTraitsConfig(doc: unknown, source = 'traits config'): TraitsConfig {
  const parsed = traitsFile.safeParse(doc)
  if (parsed.success) return parsed.data
  throw invalidConfig(
    parsed.error.issues.map((i) => `${source}: ${i.path.join('.') || '(root)'}: ${i.message}`),
  )
}

export function loadTraitsConfig(file = DEFAULT_TRAITS_FILE): TraitsConfig {
  let doc: unknown
  try {
    doc = parseYaml(readFileSync(file, 'utf8'))
  } catch (err) {
    throw invalidConfig([`${file}: ${(err as Error).message}`])
  }
  return parseTraitsConfig(doc, file)
}
