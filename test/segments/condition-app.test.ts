/**
 * The reproduction, end to end: a segment with a catastrophic regex plus ONE identify event
 * sent with the public write key stalled the pipeline for 10–20 s and more. Now the regex is
 * refused when saved, and a regex that passes the save-time check but still backtracks runs under a
 * time budget in the processor thread, so the events after it are processed.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { api, identify } from '../campaigns/campaign-api.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'

describe('segment conditions cannot stall the pipeline', () => {
  let app: TestApp
  before(async () => {
    app = await startTestApp()
  })
  after(() => app.close())

  test('a catastrophic regex or code is refused with 422 when the segment is saved', async () => {
    const regex = await api(app, 'PUT', '/v1/segments/aaa', { condition: { email: { $regex: '^(a+)+$' } } })
    assert.equal(regex.status, 422, JSON.stringify(regex.body))
    assert.equal(regex.body.code, 'INK_ERR_CONDITION_REFUSED')
    assert.equal(regex.body.path, '$.email.$regex')
    assert.match(regex.body.message, /can backtrack catastrophically/)
    const where = await api(app, 'PUT', '/v1/segments/aaa', { condition: { $where: 'this.plan == "pro"' } })
    assert.equal(where.status, 422)
    assert.match(where.body.message, /\$where runs code/)
    assert.equal((await api(app, 'GET', '/v1/segments/aaa')).status, 404, 'nothing was saved')
  })

  test('one hostile identify against a regex that still backtracks does not hold up the events after it', async () => {
    // A lookahead, so not on the linear-time engine; safe-regex2 does not see the ambiguity.
    const put = await api(app, 'PUT', '/v1/segments/aaa', {
      condition: { email: { $regex: '^(?=a)(a|a)*@x\\.io$', $options: 'i' } },
    })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    assert.equal((await api(app, 'PUT', '/v1/segments/pro', { condition: { plan: 'pro' } })).status, 200)
    // 2^40 backtracking steps unguarded: hours. identify() waits for the processor (10 s at most).
    await identify(app, { hostile: { email: `${'a'.repeat(40)}!` }, paid: { plan: 'pro', email: 'p@x.io' } })
    const pro = await api(app, 'GET', '/v1/segments/pro/members')
    assert.deepEqual(
      pro.body.members.map((m: { userId: string }) => m.userId),
      ['paid'],
    )
    assert.deepEqual((await api(app, 'GET', '/v1/segments/aaa/members')).body.members, [])
  })
})
