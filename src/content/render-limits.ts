/**
 * Hard bounds on the work one Liquid step may do. liquidjs's render limit is cooperative (checked
 * between nodes) and its memory limit is a running total, so a single filter over a huge array
 * (`{{ (1..3000000) | sort | reverse | sort }}`) passed both and held the event loop for seconds
 * before failing. Here each step is bounded before it starts: a range or one allocation may not
 * exceed MAX_ALLOCATION units, and an array filter refuses input over MAX_ARRAY_ITEMS items, so
 * such a template fails at once with INK_ERR_RENDER_LIMIT instead of blocking the server.
 */
import { Context, type FilterImplOptions, type Liquid } from 'liquidjs'
import { findInChain } from './error-chain.ts'

/** Items an array filter (sort, map, where, join…) may be given. Email content never needs more. */
export const MAX_ARRAY_ITEMS = 10_000
/** Units one range or one string allocation may charge to liquidjs's memory limit (a range of 1M numbers). */
export const MAX_ALLOCATION = 1_000_000

/** A Liquid step would exceed a bound; the render stops with INK_ERR_RENDER_LIMIT. */
export class RenderLimitExceeded extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RenderLimitExceeded'
  }
}

/** liquidjs's own limits throw an AssertionError whose message ends like this. */
const LIQUID_LIMIT = /(memory alloc|template render|parse length) limit exceeded/

/** True if the error (or one it wraps) is a limit: ours or liquidjs's render / memory / parse limit. */
export const isLimitError = (err: unknown): boolean =>
  findInChain(
    err,
    (e) => e instanceof RenderLimitExceeded || (e instanceof Error && LIQUID_LIMIT.test(e.message)),
  ) !== undefined

/** Filters that walk, copy or sort their whole input array. */
export const ARRAY_FILTERS = [
  'sort',
  'sort_natural',
  'reverse',
  'uniq',
  'map',
  'where',
  'where_exp',
  'reject',
  'reject_exp',
  'group_by',
  'group_by_exp',
  'find',
  'find_exp',
  'find_index',
  'find_index_exp',
  'has',
  'has_exp',
  'sum',
  'compact',
  'concat',
  'join',
  'push',
  'unshift',
  'pop',
  'shift',
] as const

const lengthOf = (v: unknown): number | undefined =>
  Array.isArray(v) ? v.length : v instanceof Set || v instanceof Map ? v.size : undefined

function checkItems(name: string, v: unknown): void {
  const n = lengthOf(v)
  if (n !== undefined && n > MAX_ARRAY_ITEMS)
    throw new RenderLimitExceeded(
      `render limit exceeded: the ${name} filter was given ${n} items; at most ${MAX_ARRAY_ITEMS} are allowed`,
    )
}

/** Wraps liquidjs's array filters with the item bound (before they allocate or sort anything). */
export function boundArrayFilters(liquid: Liquid): void {
  for (const name of ARRAY_FILTERS) {
    const impl: FilterImplOptions | undefined = liquid.filters[name]
    if (impl === undefined) continue
    const handler = typeof impl === 'function' ? impl : impl.handler
    const raw = typeof impl === 'function' ? false : impl.raw
    liquid.registerFilter(name, {
      raw,
      handler(this: unknown, v: unknown, ...args: unknown[]) {
        checkItems(name, v)
        // concat's argument is an array too.
        if (name === 'concat') checkItems(name, args[0])
        return handler.call(this as never, v, ...args)
      },
    })
  }
}

/** liquidjs's Limiter class (not exported by the package): the one its Context makes for each limit. */
export const Limiter = new Context().memoryLimit.constructor as new (
  resource: string,
  limit: number,
) => Context['memoryLimit']

/**
 * liquidjs's memory limit with every single charge bounded (a range's size, a padded string), so
 * `(1..3000000)` fails before the array exists.
 */
export class BoundedMemory extends Limiter {
  constructor(limit: number) {
    super('memory alloc', limit)
  }

  override use(count: number): void {
    if (+count > MAX_ALLOCATION)
      throw new RenderLimitExceeded(
        `render limit exceeded: one step asked for ${count} items (a range or a string); at most ${MAX_ALLOCATION} are allowed`,
      )
    super.use(count)
  }
}
