/**
 * foldAsciiCase rewrites an ASCII pattern so that, without the `i` flag, it matches exactly what it
 * matched with it; that is what lets case-insensitive segment regexes run on the linear-time engine.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { foldAsciiCase } from '../../src/segments/regex-case.ts'

test('letters outside and inside classes gain their other case; syntax letters do not', () => {
  assert.equal(foldAsciiCase('@Gmail\\.com$'), '@[Gg][mM][aA][iI][lL]\\.[cC][oO][mM]$')
  assert.equal(foldAsciiCase('[a-c]x'), '[ABCa-c][xX]')
  assert.equal(foldAsciiCase('[^a-c_]'), '[^ABCa-c_]')
  assert.equal(foldAsciiCase('\\w+\\d\\s\\bz'), '\\w+\\d\\s\\b[zZ]')
  assert.equal(foldAsciiCase('(?:ab|c){2,3}'), '(?:[aA][bB]|[cC]){2,3}')
  assert.equal(foldAsciiCase('[0-9]'), '[0-9]')
})

test('what it does not understand is left to the time budget (undefined)', () => {
  for (const p of ['\\x41', '\\u0041', '\\cA', '(?<n>a)\\k<n>', 'é', '[\\x41-\\x5A]', '[-a]', 'a\\'])
    assert.equal(foldAsciiCase(p), undefined, p)
})

// Patterns from a small grammar of the syntax the rewrite handles, checked against V8's own `i`.
const atom = fc.constantFrom(
  'a',
  'B',
  'z',
  'Z',
  'k',
  's',
  '0',
  '_',
  '-',
  '.',
  '\\.',
  '\\w',
  '\\W',
  '\\d',
  '\\s',
  '[a-c]',
  '[^b]',
  '[A-Z0-9]',
  '[^a-z]',
  '[_a-]',
  '[Kk-m]',
  '[\\w.]',
  '[Z-a]',
  '[^\\d]',
  '[]',
  '[^]',
)
const quant = fc.constantFrom('', '', '*', '+', '?', '{1,2}', '*?')
// Assertions cannot be quantified.
const piece = fc.oneof(
  fc.tuple(atom, quant).map(([a, q]) => a + q),
  fc.constantFrom('\\b', '\\B'),
)
const seq = fc.array(piece, { minLength: 1, maxLength: 5 }).map((xs) => xs.join(''))
const pattern = fc
  .tuple(fc.boolean(), fc.array(seq, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.boolean())
  .map(([start, alts, group, end]) => {
    const body = alts.join('|')
    return `${start ? '^' : ''}${group ? `(?:${body})` : `(${body})`}${end ? '$' : ''}`
  })
// Inputs include the non-ASCII characters whose upper case is ASCII (ſ, ı) and the Kelvin sign.
const input = fc
  .array(
    fc.constantFrom(
      'a',
      'A',
      'b',
      'B',
      'c',
      'z',
      'Z',
      'k',
      'K',
      's',
      'S',
      '0',
      '_',
      '-',
      '.',
      ' ',
      'ſ',
      'ı',
      'K',
      'é',
      '[',
    ),
    {
      maxLength: 8,
    },
  )
  .map((cs) => cs.join(''))

test('property: the rewrite without `i` matches exactly what the pattern matched with `i`', () => {
  fc.assert(
    fc.property(pattern, fc.array(input, { minLength: 1, maxLength: 5 }), (p, inputs) => {
      const folded = foldAsciiCase(p)
      assert.ok(folded !== undefined, p)
      const withI = new RegExp(p, 'i')
      const without = new RegExp(folded)
      for (const s of inputs)
        assert.equal(without.test(s), withI.test(s), `${p} → ${folded} on ${JSON.stringify(s)}`)
    }),
    { numRuns: 2000 },
  )
})
