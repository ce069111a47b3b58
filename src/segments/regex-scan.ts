/**
 * The scan both regex rewrites share (regex-case.ts, regex-unicode.ts): an ASCII pattern without
 * named groups, read atom by atom — an escape, a class, any other character — each replaced by what
 * the rewrite answers for it. Any answer of undefined gives up on the whole pattern.
 */

export interface AtomRewrite {
  /** `\next` (the letter or digit after the backslash). */
  escape(next: string): string | undefined
  /** `[inner]` (inner with its leading `^` if negated). */
  klass(inner: string): string | undefined
  /** Any other single character. */
  char(ch: string): string
}

/** The pattern with each atom rewritten, or undefined when the pattern or one atom is refused. */
export function rewriteAscii(pattern: string, rewrite: AtomRewrite): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  if (!/^[\x00-\x7f]*$/.test(pattern) || pattern.includes('(?<')) return undefined
  let out = ''
  let i = 0
  while (i < pattern.length) {
    const ch = pattern[i] as string
    if (ch === '\\') {
      const next = pattern[i + 1]
      if (next === undefined) return undefined
      const escaped = rewrite.escape(next)
      if (escaped === undefined) return undefined
      out += escaped
      i += 2
    } else if (ch === '[') {
      const end = classEnd(pattern, i)
      if (end === undefined) return undefined
      const klass = rewrite.klass(pattern.slice(i + 1, end))
      if (klass === undefined) return undefined
      out += klass
      i = end + 1
    } else {
      out += rewrite.char(ch)
      i++
    }
  }
  return out
}

/** Index of the `]` closing the class opened at `start` (a `\` escapes the next character). */
function classEnd(p: string, start: number): number | undefined {
  for (let i = start + 1; i < p.length; i++) {
    if (p[i] === '\\') i++
    else if (p[i] === ']') return i
  }
  return undefined
}
