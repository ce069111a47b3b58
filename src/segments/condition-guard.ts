/**
 * What a segment condition may do. Conditions are written by an admin but run, on every profile
 * change, over data anyone with the public write key controls; one catastrophic regular expression
 * plus one identify event once stalled the pipeline for 10–20 s. So, at save time:
 * - code (`$where`, `$function`, `$accumulator`) and query operators mingo cannot run here
 *   (`$jsonSchema`, `$text`, geo) are refused, instead of silently matching nobody; inside `$expr`,
 *   operators are an allow-list (no `$range`, `$reduce`, `$map`: loops sized by the data);
 * - `$regex` (wherever it sits: under `$not`, `$elemMatch`, `$all`) is at most 256 characters, with
 *   flags among `i`, `m`, `s`, `u` (`g` and `y` make `exec` stateful), and must pass safe-regex2 (no
 *   nested quantifiers like `(a+)+`); regex operators inside `$expr` are refused;
 * - nesting is at most MAX_CONDITION_DEPTH levels.
 * Then every regex is compiled for V8's linear-time engine when it can run there (no backreference or
 * lookaround; `i` or `u` on an ASCII pattern is rewritten away by regex-case.ts / regex-unicode.ts): whatever
 * the input, matching is linear. The others are marked `budgeted` and the evaluator runs them under
 * a time budget (condition.ts).
 */
import v8 from 'node:v8'
import safeRegex from 'safe-regex2'
import { InkError } from '../core/errors.ts'
import type { JsonObject } from '../core/types.ts'
import { foldAsciiCase } from './regex-case.ts'
import { withoutUnicodeFlag } from './regex-unicode.ts'

export const MAX_REGEX_LENGTH = 256
export const MAX_CONDITION_DEPTH = 32
const REGEX_FLAGS = /^[imsu]*$/

/** The comparisons both the query language and `$expr` expressions have. */
const COMPARISONS = ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte'] as const

const QUERY_OPERATORS = new Set([
  ...COMPARISONS,
  '$in',
  '$nin',
  '$and',
  '$or',
  '$nor',
  '$not',
  '$exists',
  '$type',
  '$mod',
  '$regex',
  '$options',
  '$all',
  '$elemMatch',
  '$size',
  '$expr',
])

const EXPRESSION_OPERATORS = new Set([
  ...COMPARISONS,
  '$cmp',
  '$and',
  '$or',
  '$not',
  '$add',
  '$subtract',
  '$multiply',
  '$divide',
  '$mod',
  '$abs',
  '$ceil',
  '$floor',
  '$round',
  '$trunc',
  '$min',
  '$max',
  '$cond',
  '$ifNull',
  '$switch',
  '$size',
  '$in',
  '$isArray',
  '$arrayElemAt',
  '$first',
  '$last',
  '$toLower',
  '$toUpper',
  '$strLenCP',
  '$concat',
  '$substrCP',
  '$type',
  '$isNumber',
  '$toString',
  '$toInt',
  '$toDouble',
  '$toBool',
  '$literal',
])

const RUNS_CODE = new Set(['$where', '$function', '$accumulator'])
/** Query operators mingo knows that cannot work here; operators it does not know are left to its own 400. */
const QUERY_REFUSED = new Set([
  '$jsonSchema',
  '$text',
  '$geoWithin',
  '$geoIntersects',
  '$near',
  '$nearSphere',
  '$rand',
  '$sampleRate',
])
const REGEX_EXPRESSIONS = new Set(['$regexMatch', '$regexFind', '$regexFindAll'])

/** The condition as mingo should run it (regexes compiled), and whether it needs a time budget. */
export interface GuardedCondition {
  query: JsonObject
  /** True when some regex could not be compiled for the linear-time engine. */
  budgeted: boolean
}

export const conditionRefused = (path: string, reason: string) =>
  new InkError('INK_ERR_CONDITION_REFUSED', `segment condition refused at ${path}: ${reason}`, {
    details: { path },
  })

const badRegex = (path: string, err: unknown) =>
  new InkError('INK_ERR_BAD_REQUEST', `invalid segment condition: ${path}: ${(err as Error).message}`, {
    cause: err,
    details: { path },
  })

/** A variable, not a literal: `/a/l` does not parse where the engine is off. */
const LINEAR_FLAG = 'l'
let linear: boolean | undefined
/** Turns on V8's linear-time regex engine (the `l` flag) once; false where this V8 has none. */
function linearEngine(): boolean {
  if (linear === undefined) {
    try {
      // Only makes the `l` flag parseable; no other regex changes behaviour.
      v8.setFlagsFromString('--enable-experimental-regexp-engine')
      new RegExp('a', LINEAR_FLAG)
      linear = true
    } catch {
      linear = false
    }
  }
  return linear
}

/** Compiles one `$regex` after the checks; `linear` false means it needs the time budget. */
export function compileRegex(
  pattern: unknown,
  flags: unknown,
  path: string,
): { re: RegExp; linear: boolean } {
  if (typeof pattern !== 'string')
    throw conditionRefused(path, '$regex takes a string, e.g. {"$regex": "@example\\\\.com$"}')
  if (flags !== undefined && (typeof flags !== 'string' || !REGEX_FLAGS.test(flags)))
    throw conditionRefused(path, '$options may only hold the flags i, m, s and u')
  if (pattern.length > MAX_REGEX_LENGTH)
    throw conditionRefused(
      path,
      `the regular expression is ${pattern.length} characters; the limit is ${MAX_REGEX_LENGTH}`,
    )
  const f = typeof flags === 'string' ? flags : ''
  let re: RegExp
  try {
    re = new RegExp(pattern, f)
  } catch (err) {
    throw badRegex(path, err)
  }
  if (!safeRegex(pattern))
    throw conditionRefused(
      path,
      `the regular expression /${pattern}/ can backtrack catastrophically (a quantifier inside a quantified group, such as (a+)+); rewrite it without the nesting`,
    )
  if (linearEngine()) {
    // Neither `i` nor `u` is supported by the linear engine: an ASCII pattern is rewritten to match
    // without the flag what it matched with it (regex-case.ts, regex-unicode.ts).
    const caseless = f.includes('i') && !f.includes('u')
    const unicode = f.includes('u') && !f.includes('i')
    const source = caseless
      ? foldAsciiCase(pattern)
      : unicode
        ? withoutUnicodeFlag(pattern, f.includes('s'))
        : pattern
    const linearFlags = f.replace(caseless ? 'i' : unicode ? 'u' : '', '')
    if (source !== undefined)
      try {
        return { re: new RegExp(source, `${linearFlags}${LINEAR_FLAG}`), linear: true }
      } catch {}
  }
  return { re, linear: false }
}

const step = (path: string, key: string | number) =>
  typeof key === 'number'
    ? `${path}[${key}]`
    : /^[A-Za-z_$][\w$]*$/.test(key)
      ? `${path}.${key}`
      : `${path}[${JSON.stringify(key)}]`

/** Checks a condition and returns it ready for mingo; throws INK_ERR_CONDITION_REFUSED (422) or INK_ERR_BAD_REQUEST. */
export function guardCondition(condition: JsonObject): GuardedCondition {
  let budgeted = false

  const walk = (value: unknown, path: string, depth: number, expr: boolean): unknown => {
    if (typeof value !== 'object' || value === null) return value
    if (depth > MAX_CONDITION_DEPTH)
      throw conditionRefused(path, `conditions are limited to ${MAX_CONDITION_DEPTH} levels of nesting`)
    if (Array.isArray(value)) return value.map((v, i) => walk(v, step(path, i), depth + 1, expr))
    const obj = value as JsonObject
    const out: JsonObject = {}
    for (const [key, item] of Object.entries(obj)) {
      const at = step(path, key)
      if (key.startsWith('$')) {
        if (RUNS_CODE.has(key))
          throw conditionRefused(at, `${key} runs code, which segment conditions never do`)
        if (expr && REGEX_EXPRESSIONS.has(key))
          throw conditionRefused(at, `${key} is not supported; test the field with the $regex query operator`)
        const refused = expr ? !EXPRESSION_OPERATORS.has(key) : QUERY_REFUSED.has(key)
        if (refused)
          throw conditionRefused(
            at,
            `${key} is not supported in segment conditions; use ${[...(expr ? EXPRESSION_OPERATORS : QUERY_OPERATORS)].join(', ')}`,
          )
      }
      if (!expr && key === '$regex') {
        const { re, linear } = compileRegex(item, obj.$options, at)
        if (!linear) budgeted = true
        out.$regex = re
        continue
      }
      if (!expr && key === '$options') {
        if (!('$regex' in obj)) throw conditionRefused(at, '$options goes with $regex')
        continue
      }
      if (expr && key === '$literal') {
        out[key] = item
        continue
      }
      out[key] = walk(item, at, depth + 1, expr || key === '$expr')
    }
    return out
  }

  return { query: walk(condition, '$', 1, false) as JsonObject, budgeted }
}
