/**
 * The three questions asked of a failed render (did the template abort? must it go on
 * asynchronously? did it hit a limit?) walk liquidjs's wrapping the same way: `originalError`, else
 * `cause`, at any depth up to the bound.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RenderError } from 'liquidjs'
import { abortedBy, MessageAborted } from '../../src/content/braze/abort-message-tag.ts'
import { isLimitError, RenderLimitExceeded } from '../../src/content/render-limits.ts'
import { NeedsAsyncRender, needsAsyncRender } from '../../src/content/render-state.ts'

const checks = {
  aborted: (e: unknown) => abortedBy(e) !== undefined,
  async: needsAsyncRender,
  limit: isLimitError,
}
const errors = {
  aborted: () => new MessageAborted('no language'),
  async: () => new NeedsAsyncRender('a source is only known mid-render'),
  limit: () => new RenderLimitExceeded('render limit exceeded: too many items'),
}

/** liquidjs's wrapper around what a node threw: its `originalError` is the error. */
const wrapped = (e: Error): Error => {
  const w = new Error(`wrapped: ${e.message}`)
  Object.defineProperty(w, 'originalError', { value: e })
  return w
}

test('each check finds its error itself, under originalError, under cause, and under both mixed', () => {
  for (const kind of ['aborted', 'async', 'limit'] as const) {
    const make = errors[kind]
    const chains = {
      bare: make(),
      originalError: wrapped(wrapped(make())),
      cause: new Error('outer', { cause: new Error('middle', { cause: make() }) }),
      mixed: wrapped(new Error('middle', { cause: wrapped(make()) })),
    }
    for (const [shape, err] of Object.entries(chains)) {
      for (const [name, check] of Object.entries(checks))
        assert.equal(check(err), name === kind, `${name} on a ${kind} error (${shape})`)
    }
  }
})

test("liquidjs's own RenderError around an abort is found", () => {
  const tpl = { token: { getPosition: () => [1, 1], input: 'x', file: undefined, begin: 0, end: 1 } }
  const err = new RenderError(new MessageAborted('stop'), tpl as never)
  assert.equal(abortedBy(err)?.reason, 'stop')
  assert.equal(needsAsyncRender(err), false)
})

test('the walk stops at its depth bound and on a cycle', () => {
  let deep: Error = errors.limit()
  for (let i = 0; i < 20; i++) deep = new Error(`level ${i}`, { cause: deep })
  assert.equal(isLimitError(deep), false)
  const a = new Error('a')
  const b = new Error('b', { cause: a })
  Object.defineProperty(a, 'cause', { value: b })
  assert.equal(isLimitError(a), false)
})
