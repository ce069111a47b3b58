/**
 * A long asynchronous render shares the event loop between any two Liquid nodes, not only before
 * outputs: a loop that prints nothing pauses too. Shown by ordering, not timing: a counter driven by
 * setImmediate can only advance while the render is not holding the loop, so it counts the turns
 * the event loop took while the render was running.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compileTemplate } from '../../src/content/compile.ts'
import type { ConnectedContent } from '../../src/content/connected-content/connected-content.ts'
import { createEngine } from '../../src/content/liquid-engine.ts'
import type { TemplateVersion } from '../../src/content/template-store.ts'
import { type RenderResult, renderEmail } from '../../src/render/render-email.ts'

const noSources: ConnectedContent = {
  fetch: async () => ({ outcome: 'error', message: 'no sources in this test', durationMs: 0 }),
  close: async () => {},
}
const engine = createEngine({ blocks: {}, connectedContent: noSources })

const version = (body: string): TemplateVersion => ({
  workspaceId: 'w',
  templateId: 't',
  version: 1,
  name: 't',
  subject: 'Hi',
  preheader: '',
  format: 'html',
  body,
  text: null,
  hash: '',
  createdAt: 0,
})

/** Renders `body` while a setImmediate counter runs; returns the result and the turns it counted. */
async function renderCountingTurns(body: string): Promise<{ result: RenderResult; turns: number }> {
  const compiled = await compileTemplate(version(body), engine)
  let turns = 0
  let running = true
  const turn = () => {
    if (!running) return
    turns++
    setImmediate(turn)
  }
  setImmediate(turn)
  const result = await renderEmail(
    engine,
    compiled,
    { profileOutcome: 'none', traits: {} },
    {
      workspaceId: 'w',
      deadline: Date.now() + 5_000,
      budgetMs: 5_000,
    },
  )
  running = false
  return { result, turns }
}

test('a loop without any output lets the event loop turn while it renders', async () => {
  // Far more work than one 50 ms slice: it finishes, or stops at the 1 s render limit.
  const { result, turns } = await renderCountingTurns(
    '{% for i in (1..900000) %}{% assign x = i %}{% endfor %}<p>{{ x }}</p>',
  )
  if (result.ok) assert.match(result.html, /<p>900000<\/p>/)
  else assert.equal(result.error?.code, 'INK_ERR_RENDER_LIMIT', JSON.stringify(result))
  // One turn between the synchronous attempt and the asynchronous render, then one per slice.
  assert.ok(turns >= 3, `the event loop turned ${turns} times during the render`)
})

test('a short render stays synchronous: the event loop does not turn during it', async () => {
  const { result, turns } = await renderCountingTurns(
    '{% for i in (1..50) %}{% assign x = i %}{% endfor %}<p>{{ x }}</p>',
  )
  assert.ok(result.ok)
  assert.match(result.html, /<p>50<\/p>/)
  assert.equal(turns, 0)
})

test('in an asynchronous render, what nodes print and what they throw pass through the pauses', async () => {
  // A source whose URL is only known mid-render makes the whole render asynchronous from the start.
  const async =
    "{% assign u = 'https://example.test/x' %}{% connected_content {{ u }} :save d :timeout 100 %}"
  const printed = await renderCountingTurns(
    `${async}{% for i in (1..20000) %}{% if i == 19999 %}<b>{{ i }}{{ d.x | default: "-" }}</b>{% endif %}{% endfor %}`,
  )
  assert.ok(printed.result.ok, JSON.stringify(printed.result))
  assert.match(printed.result.html, /<b>19999-<\/b>/)
  assert.equal(printed.result.report.sources[0]?.outcome, 'error')
  const aborted = await renderCountingTurns(
    `${async}{% for i in (1..20000) %}{% if i == 19999 %}{% abort_message('late in the loop') %}{% endif %}{% endfor %}`,
  )
  assert.deepEqual(aborted.result.skip, { type: 'abort_message', reason: 'late in the loop' })
})
