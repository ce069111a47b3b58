/**
 * The templates page's pure parts (no browser): the preview request built from the pane's options,
 * the connected-content source names found in a body, the unified diff of two versions, and that
 * CodeMirror is fetched only with the templates page (not by the shell's first load).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Text } from '@codemirror/state'
import { dashboardBundle } from '../../src/ui/assets.ts'
import { diagnosticsOf } from '../../src/ui/client/components/ui-templates-editor.tsx'
import {
  NO_OPTIONS,
  previewRequest,
  sourceNames,
} from '../../src/ui/client/components/ui-templates-preview.tsx'
import { unifiedDiff } from '../../src/ui/client/components/ui-templates-versions.tsx'

const draft = { subject: 's', html: '<p/>' }

describe('templates page parts', () => {
  test('the preview request carries the user, the inline profile and every fault, or says what is wrong', () => {
    assert.deepEqual(previewRequest(draft, NO_OPTIONS), { draft })
    assert.deepEqual(previewRequest(draft, { ...NO_OPTIONS, userId: ' ann ' }), { draft, userId: 'ann' })
    assert.deepEqual(
      previewRequest(draft, {
        ...NO_OPTIONS,
        failSources: ['recs'],
        delaySources: { weather: '250', other: '' },
        dropTraits: 'first_name, ,city',
        profileDelayMs: '900',
        deadlineMs: '400',
      }),
      {
        draft,
        faults: {
          failSources: ['recs'],
          delaySources: { weather: 250 },
          dropTraits: ['first_name', 'city'],
          profileDelayMs: 900,
        },
        deadlineMs: 400,
      },
    )
    assert.deepEqual(previewRequest(draft, { ...NO_OPTIONS, mode: 'inline', profileJson: '{"a":1}' }), {
      draft,
      profile: { a: 1 },
    })
    assert.match(
      String(previewRequest(draft, { ...NO_OPTIONS, mode: 'inline', profileJson: '{' })),
      /not JSON/,
    )
    assert.match(
      String(previewRequest(draft, { ...NO_OPTIONS, mode: 'inline', profileJson: '[1]' })),
      /JSON object/,
    )
    assert.match(String(previewRequest(draft, { ...NO_OPTIONS, delaySources: { r: 'soon' } })), /delay of r/)
    assert.match(String(previewRequest(draft, { ...NO_OPTIONS, deadlineMs: '5' })), /between 10 and 10000/)
  })

  test('source names are the :save names of the connected-content calls', () => {
    const body =
      '{% connected_content https://a.example/x?u={{ user_id }} :save recs :timeout 300 %}' +
      '{%- connected_content https://b.example/w :timeout 100 :save weather %}{% connected_content https://c.example %}' +
      '{% connected_content https://a.example/y :save recs %}'
    assert.deepEqual(sourceNames(body), ['recs', 'weather'])
  })

  test('the diff lists exactly the changed lines with context', () => {
    const a = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n'
    const b = 'one\ntwo\nthree\nfour\nFIVE\nsix\nseven\neight\n'
    assert.deepEqual(unifiedDiff(a, b), [
      { kind: 'hunk', text: '@@ -2,7 +2,7 @@' },
      { kind: 'same', text: ' two' },
      { kind: 'same', text: ' three' },
      { kind: 'same', text: ' four' },
      { kind: 'del', text: '-five' },
      { kind: 'add', text: '+FIVE' },
      { kind: 'same', text: ' six' },
      { kind: 'same', text: ' seven' },
      { kind: 'same', text: ' eight' },
    ])
    assert.deepEqual(unifiedDiff(a, a), [])
  })

  test('lint problems of the body become diagnostics on their line, kept inside the document', () => {
    const doc = Text.of(['<p>a</p>', '{% nosuchtag %}'])
    const problem = { level: 'error' as const, code: 'liquid', part: 'body', message: 'tag not found' }
    assert.deepEqual(
      diagnosticsOf(doc, [
        { ...problem, line: 2 },
        { ...problem, part: 'subject', line: 1 },
        { ...problem, line: 9, level: 'warning' },
        { ...problem, line: null },
      ]).map((d) => [d.from, d.to, d.severity]),
      [
        [9, 24, 'error'],
        [9, 24, 'warning'],
        [0, 8, 'error'],
      ],
    )
  })

  test("CodeMirror is in the templates page's chunk, not in what the shell loads first", async () => {
    const bundle = await dashboardBundle()
    const text = (name: string) => bundle.files.get(name)?.body.toString('utf8') ?? ''
    // The entry script and the chunks it imports statically (`from"./chunk-….js"`).
    const first = new Set([bundle.entry.script])
    for (const name of first)
      for (const m of text(name).matchAll(/from\s*"\.\/([^"]+\.js)"/g)) if (m[1]) first.add(m[1])
    const withEditor = [...bundle.files.keys()].filter((n) => text(n).includes('cm-scroller'))
    assert.ok(withEditor.length > 0, 'the bundle has CodeMirror somewhere')
    assert.deepEqual(
      withEditor.filter((n) => first.has(n)),
      [],
    )
  })
})
