/**
 * V8's linear-time regex engine (Node 20) refuses the `u` flag outright, even for `^.*@.*\..*$`.
 * For an ASCII pattern without `i`, `u` only changes what the "wide" atoms (`.`, `[^…]`, `\S`, `\W`,
 * `\D`) do with characters outside the BMP: with `u` they take a surrogate pair as one character.
 * Every other atom of such a pattern matches only BMP characters that are not surrogates. So each
 * wide atom is rewritten to take either one non-surrogate code unit or one whole pair
 * (`(?:[^\n\r\u2028\u2029\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])` for `.`), and the pattern
 * runs without `u` on the linear engine: a pair is never split, and a match cannot start inside one.
 * The one difference: a lone surrogate (malformed UTF-16, only from a `\ud800`-style JSON escape)
 * matches no wide atom. Patterns this rewrite does not understand are left alone (undefined): they
 * run on the backtracking engine, under the evaluator's time budget.
 */
import { rewriteAscii } from './regex-scan.ts'

const PAIR = '[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]'
const NOT_SURROGATE = '\\uD800-\\uDFFF'
/** One code point matching the negated class body `[^body]`, never half a pair. */
const wide = (negatedBody: string) => `(?:[^${NOT_SURROGATE}${negatedBody}]|${PAIR})`

/** Escapes kept as they are: they match the same BMP characters with or without `u`. */
const SAME_ESCAPES = new Set(['d', 'w', 's', 'b', 'n', 'r', 't', 'f', 'v'])
const WIDE_ESCAPES: Record<string, string> = { D: '\\d', W: '\\w', S: '\\s' }
/** Escapes inside a class: `\b` is a backspace there. */
const CLASS_ESCAPES = new Set(['d', 'w', 's', 'b', 'n', 'r', 't', 'f', 'v'])

/** The pattern rewritten to match without `u` what it matched with it, or undefined when not sure. */
export function withoutUnicodeFlag(pattern: string, dotAll: boolean): string | undefined {
  return rewriteAscii(pattern, {
    escape: (next) => {
      const widened = WIDE_ESCAPES[next]
      if (widened !== undefined) return wide(widened)
      return /[A-Za-z0-9]/.test(next) && !SAME_ESCAPES.has(next) ? undefined : `\\${next}`
    },
    klass: (inner) => {
      const negated = inner.startsWith('^')
      const body = negated ? inner.slice(1) : inner
      if (!classBodyOk(body)) return undefined
      // `[^]` matches anything; a body starting or ending with `-` could join the surrogate range.
      if (negated && (body === '' || body.startsWith('-') || body.endsWith('-'))) return undefined
      return negated ? wide(body) : `[${body}]`
    },
    char: (ch) => (ch === '.' ? wide(dotAll ? '' : '\\n\\r\\u2028\\u2029') : ch),
  })
}

/** Only escapes that match the same characters with and without `u` (no \D \W \S, \x, \u, \p…). */
function classBodyOk(body: string): boolean {
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') continue
    const next = body[i + 1]
    if (next === undefined) return false
    if (/[A-Za-z0-9]/.test(next) && !CLASS_ESCAPES.has(next)) return false
    i++
  }
  return true
}
