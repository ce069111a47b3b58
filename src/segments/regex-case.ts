/**
 * V8's linear-time regex engine (Node 20) refuses the `i` flag, and `{"$options": "i"}` is the most
 * common way to write an email-domain segment. For an ASCII pattern without the `u` flag, `i` only
 * pairs ASCII letters (ECMAScript's Canonicalize never maps a non-ASCII character onto an ASCII one),
 * so the pattern can be rewritten to match both cases itself (`a` → `[aA]`, `[a-c]` → `[a-cA-C]`) and
 * run on the linear engine. Patterns this rewrite does not understand are left alone (undefined):
 * they run on the backtracking engine, under the evaluator's time budget.
 */
import { rewriteAscii } from './regex-scan.ts'

const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
const otherCase = (c: number) => String.fromCharCode(c >= 97 ? c - 32 : c + 32)

/** Escapes whose letter is syntax, not a literal; anything else after `\` is refused (hex, unicode, control, backrefs by name). */
const CLASS_ESCAPES = new Set(['d', 'D', 'w', 'W', 's', 'S', 'b', 'B', 'n', 'r', 't', 'f', 'v'])

/** The pattern rewritten to match without the `i` flag as it did with it, or undefined when not sure. */
export function foldAsciiCase(pattern: string): string | undefined {
  return rewriteAscii(pattern, {
    escape: (next) => (isLetter(next.charCodeAt(0)) && !CLASS_ESCAPES.has(next) ? undefined : `\\${next}`),
    klass: foldClass,
    char: (ch) => {
      const c = ch.charCodeAt(0)
      return isLetter(c) ? `[${ch}${otherCase(c)}]` : ch
    },
  })
}

/** `[body]` with the other case of every letter it holds added (negated classes too: `[^a]` → `[^aA]`). */
function foldClass(inner: string): string | undefined {
  const negated = inner.startsWith('^')
  const body = negated ? inner.slice(1) : inner
  // Single characters of the body, with ranges marked; escapes other than \d\w\s… are refused above.
  const atoms: { c: number | undefined; text: string }[] = []
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\') {
      const next = body[i + 1]
      if (next === undefined) return undefined
      if (isLetter(next.charCodeAt(0))) {
        if (!CLASS_ESCAPES.has(next)) return undefined
        atoms.push({ c: undefined, text: `\\${next}` })
      } else atoms.push({ c: next.charCodeAt(0), text: `\\${next}` })
      i++
    } else atoms.push({ c: body.charCodeAt(i), text: body[i] as string })
  }
  const extra = new Set<string>()
  for (let k = 0; k < atoms.length; k++) {
    const a = atoms[k] as { c: number | undefined; text: string }
    const dash = atoms[k + 1]
    const hi = atoms[k + 2]
    if (dash?.text === '-' && hi !== undefined && a.c !== undefined && hi.c !== undefined) {
      for (let c = a.c; c <= hi.c; c++) if (isLetter(c)) extra.add(otherCase(c))
      k += 2
    } else if (a.c !== undefined && isLetter(a.c)) extra.add(otherCase(a.c))
  }
  // Extra letters go first, so they cannot join a range with a trailing or leading '-'.
  if (body.startsWith('-') && extra.size > 0) return undefined
  return `[${negated ? '^' : ''}${[...extra].sort().join('')}${body}]`
}
