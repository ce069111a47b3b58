/**
 * withoutUnicodeFlag rewrites an ASCII pattern so that, without the `u` flag, it matches exactly what
 * it matched with it (lone surrogates aside); that is what lets `u` segment regexes such as
 * `^.*@.*\..*$` run on the linear-time engine.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { compileCondition, matches } from '../../src/segments/condition.ts'
import { compileRegex } from '../../src/segments/condition-guard.ts'
import { withoutUnicodeFlag } from '../../src/segments/regex-unicode.ts'

test('a u pattern with wide atoms runs on the linear engine: no budget needed', () => {
  const c = compileCondition({ email: { $regex: '^.*@.*\\..*$', $options: 'u' } })
  assert.equal(c.budgeted, false)
  assert.equal(matches(c, { email: 'ann@example.com' }), true)
  assert.equal(matches(c, { email: '😀@😀.😀' }), true)
  assert.equal(matches(c, { email: 'a@'.repeat(50_000) }), false)
})

test('what it does not understand is left to the time budget (undefined)', () => {
  for (const p of [
    '\\u{1F600}',
    '\\p{L}',
    '\\x41',
    '\\cA',
    'é',
    '\\B',
    '(?<n>a)',
    '[^]',
    '[^a-]',
    '[\\S]',
    '\\1',
  ])
    assert.equal(withoutUnicodeFlag(p, false), undefined, p)
  // u with i: Unicode case folding (ſ is s) is not ASCII's.
  assert.equal(compileRegex('s', 'iu', '$').linear, false)
})

const atom = fc.constantFrom(
  'a',
  'b',
  '@',
  '\\.',
  '.',
  '[^a]',
  '[^@.]',
  '[a-c]',
  '[^\\s]',
  '\\S',
  '\\W',
  '\\d',
  '\\w',
  '\\s',
  '\\b',
  ' ',
)
const quantifier = fc.constantFrom('', '', '*', '+', '?', '{2}', '{1,3}', '*?', '+?')
const piece = fc.tuple(atom, quantifier).map(([a, q]) => a + q)
const sequence = fc.array(piece, { minLength: 1, maxLength: 5 }).map((p) => p.join(''))
const pattern = fc
  .tuple(
    fc.constantFrom('', '^'),
    fc.oneof(
      sequence,
      fc.tuple(sequence, sequence, quantifier).map(([x, y, q]) => `(?:${x}|${y})${q}`),
      fc.tuple(sequence, sequence).map(([x, y]) => `${x}(${y})*`),
    ),
    fc.constantFrom('', '$'),
  )
  .map(([a, body, z]) => a + body + z)
const input = fc
  .array(fc.constantFrom('a', 'b', '@', '.', ' ', '1', '\n', '\u2028', 'é', '😀', '𝒳', '_'), { maxLength: 8 })
  .map((c) => c.join(''))

// compileRegex turns V8's linear engine on; `l` is a variable, as it does not parse where the engine is off.
assert.equal(compileRegex('a', 'u', '$').linear, true)
const LINEAR = 'l'

const isValid = (p: string, flags: string) => {
  try {
    new RegExp(p, flags)
    return true
  } catch {
    return false
  }
}

test('the rewrite without u matches exactly what the pattern matches with u, and runs on the linear engine', () => {
  fc.assert(
    fc.property(pattern, fc.constantFrom('', 'm', 's', 'ms'), input, (p, flags, s) => {
      // Only patterns a segment could hold: valid with u (no quantified \b, for one).
      fc.pre(isValid(p, `${flags}u`))
      const source = withoutUnicodeFlag(p, flags.includes('s'))
      assert.ok(source !== undefined, p)
      assert.equal(
        new RegExp(source, flags).test(s),
        new RegExp(p, `${flags}u`).test(s),
        `${p} /${flags} on ${JSON.stringify(s)}`,
      )
      // Compiles for the linear engine (safe-regex2 aside, which compileRegex applies first).
      assert.doesNotThrow(() => new RegExp(source, `${flags}${LINEAR}`), source)
    }),
    { numRuns: 3000 },
  )
})
