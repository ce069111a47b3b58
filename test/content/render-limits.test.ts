/**
 * A template cannot make one Liquid step do unbounded work: a huge range, or an array filter over
 * a huge array, fails at once with INK_ERR_RENDER_LIMIT. "At once" is shown by counting the work,
 * not by timing it: Array.prototype.sort is wrapped to count the items it is given during the
 * render (liquidjs's sort filters end in it), and no more than the limit may ever reach it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MAX_ALLOCATION, MAX_ARRAY_ITEMS } from '../../src/content/render-limits.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'

let app: TestApp
let headers: Record<string, string>
/** The most items one Array.prototype.sort call was given since the last reset. */
let largestSort = 0
const realSort = Array.prototype.sort

before(async () => {
  app = await startTestApp()
  headers = { authorization: `Bearer ${app.workspace.adminKey}`, 'content-type': 'application/json' }
  Array.prototype.sort = function countedSort<T>(this: T[], compare?: (a: T, b: T) => number): T[] {
    largestSort = Math.max(largestSort, this.length)
    return realSort.call(this, compare) as T[]
  }
})

after(async () => {
  Array.prototype.sort = realSort
  await app.close()
})

async function preview(id: string, html: string, profile: Record<string, unknown> = {}) {
  const put = await app.server.inject({
    method: 'PUT',
    url: `/v1/templates/${id}`,
    headers,
    payload: JSON.stringify({ subject: 'Hi', html }),
  })
  assert.ok(put.statusCode === 201 || put.statusCode === 200, put.body)
  largestSort = 0
  const res = await app.server.inject({
    method: 'POST',
    url: `/v1/templates/${id}/preview`,
    headers,
    payload: JSON.stringify({ profile }),
  })
  return { status: res.statusCode, body: res.json() as { code?: string; message?: string; html?: string } }
}

describe('bounded Liquid steps', () => {
  test('sorting a three-million range fails with INK_ERR_RENDER_LIMIT before any of it is sorted', async () => {
    const r = await preview('huge-range', '<p>{{ (1..3000000) | sort | reverse | sort }}</p>')
    assert.equal(r.status, 422)
    assert.equal(r.body.code, 'INK_ERR_RENDER_LIMIT')
    assert.match(r.body.message ?? '', new RegExp(`3000000 items .* at most ${MAX_ALLOCATION}`))
    assert.ok(largestSort <= MAX_ARRAY_ITEMS, `a sort was given ${largestSort} items`)
  })

  test('an array filter given more than the item limit refuses it before working on it', async () => {
    const r = await preview(
      'big-sort',
      `{% assign a = (1..${MAX_ARRAY_ITEMS + 1}) %}<p>{{ a | sort | size }}</p>`,
    )
    assert.equal(r.status, 422)
    assert.equal(r.body.code, 'INK_ERR_RENDER_LIMIT')
    assert.match(r.body.message ?? '', new RegExp(`the sort filter was given ${MAX_ARRAY_ITEMS + 1} items`))
    assert.ok(largestSort <= MAX_ARRAY_ITEMS, `a sort was given ${largestSort} items`)
  })

  test('a trait array over the limit is refused by map and join; one at the limit renders', async () => {
    const items = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `p${i}` }))
    const html = '<p>{{ items | map: "name" | join: "," | size }}</p>'
    const over = await preview('trait-array', html, { items: items(MAX_ARRAY_ITEMS + 1) })
    assert.equal(over.status, 422)
    assert.match(over.body.message ?? '', /the map filter was given 10001 items/)
    const at = await preview('trait-array', html, { items: items(MAX_ARRAY_ITEMS) })
    assert.equal(at.status, 200, JSON.stringify(at.body))
    assert.match(at.body.html ?? '', /<p>58889<\/p>/)
  })

  test("concat's argument is bounded too", async () => {
    const r = await preview(
      'concat',
      `{% assign small = "a,b" | split: "," %}{% assign big = (1..${MAX_ARRAY_ITEMS + 5}) %}<p>{{ small | concat: big | size }}</p>`,
    )
    assert.equal(r.body.code, 'INK_ERR_RENDER_LIMIT')
    assert.match(r.body.message ?? '', /concat filter was given 10005 items/)
  })

  test('a fallback section does not hide a limit: the whole render stops', async () => {
    const r = await preview(
      'section-limit',
      '{% section "recs" %}<p>{{ (1..3000000) | sort }}</p>{% fallback %}<p>generic</p>{% endsection %}',
    )
    assert.equal(r.status, 422)
    assert.equal(r.body.code, 'INK_ERR_RENDER_LIMIT')
  })

  test('ordinary ranges and sorts render as before', async () => {
    const r = await preview(
      'ordinary',
      '<p>{{ (1..5) | reverse | join: "-" }} {{ (1..2000) | sort | last }}</p>',
    )
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.match(r.body.html ?? '', /<p>5-4-3-2-1 2000<\/p>/)
  })
})
