/**
 * The connected-content cache key is stored (Redis, shared by every instance): a faster way of
 * computing it must give the very same key, or a rolling upgrade would miss every cached response.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { type KeyParts, requestKey } from '../../src/content/connected-content/request-key.ts'

/** The key as it was first defined: the whole tuple as JSON, hashed with createHash. */
function reference(p: KeyParts): string {
  const sorted = (h: Record<string, string>) =>
    Object.entries(h)
      .map(([k, v]) => [k.toLowerCase(), v])
      .sort(([a = ''], [b = '']) => (a < b ? -1 : a > b ? 1 : 0))
  const sha = (t: string) => createHash('sha256').update(t).digest('base64url')
  const cred = p.credential === undefined ? null : sha(JSON.stringify(sorted(p.credentialHeaders)))
  const tuple = [p.method, p.url, p.body ?? null, sorted(p.headers), p.credential ?? null, cred]
  return `cc:${encodeURIComponent(p.workspaceId)}:${sha(JSON.stringify(tuple))}`
}

const base: KeyParts = {
  workspaceId: 'w 1',
  method: 'GET',
  url: 'https://api.example/recs?u=ada&q=%22x%22',
  body: undefined,
  headers: {},
  credential: undefined,
  credentialHeaders: {},
}

test('the key is the same as the tuple-hash definition, with and without body, headers and credential', () => {
  const cases: KeyParts[] = [
    base,
    { ...base, url: 'http://127.0.0.1:8080/a"b\\c\u2028' },
    { ...base, method: 'POST', body: '{"a":1}' },
    { ...base, body: '' },
    { ...base, headers: { 'X-B': '2', 'x-a': '1' } },
    { ...base, credential: 'crm', credentialHeaders: { Authorization: 'Bearer t' } },
    { ...base, credential: 'crm', credentialHeaders: {} },
  ]
  for (const c of cases) assert.equal(requestKey(c), reference(c), JSON.stringify(c))
})

test('what a key depends on changes it', () => {
  const key = requestKey(base)
  assert.notEqual(requestKey({ ...base, url: `${base.url}x` }), key)
  assert.notEqual(requestKey({ ...base, workspaceId: 'w2' }), key)
  assert.notEqual(requestKey({ ...base, body: '' }), key)
  assert.notEqual(requestKey({ ...base, headers: { a: 'b' } }), key)
  assert.notEqual(
    requestKey({ ...base, credential: 'c', credentialHeaders: { a: '1' } }),
    requestKey({ ...base, credential: 'c', credentialHeaders: { a: '2' } }),
  )
})
