/**
 * `inkstream send` polls GET /v1/campaigns/:id and reads its reply as a campaign. A server that
 * answers JSON of another shape (an older version, a proxy, another service on the port) gets a clear
 * INK_ERR_SERVER_UNREACHABLE naming what is wrong, never a TypeError from the progress bar.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { campaignViewProblem, send } from '../../src/cli/send.ts'
import { loadConfig } from '../../src/config.ts'
import { isInkError } from '../../src/core/errors.ts'

/** A real HTTP server: POST …/start answers 202, GET … answers `campaign` as JSON. */
let server: Server
let url: string
let campaign: unknown
before(async () => {
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    if (req.method === 'POST') {
      res.statusCode = 202
      res.end(JSON.stringify({ id: 'c1', state: 'running' }))
      return
    }
    res.end(JSON.stringify(campaign))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => new Promise<void>((resolve) => server.close(() => resolve())))

const counts = { sent: 2, failed: 0, suppressed: 0, skipped: 1, unknown: 0, sending: 0 }
const run = () =>
  send(loadConfig({}, { logLevel: 'silent' }), ['c1', '--url', url, '--interval', '50'], async () => 'key')

describe('inkstream send reads the campaign reply through a type guard', () => {
  test('a reply without progress counts is refused with a code and the reason', async () => {
    campaign = { id: 'c1', state: 'done', error: null }
    await assert.rejects(run(), (err: unknown) => {
      assert.ok(isInkError(err), String(err))
      assert.equal(err.code, 'INK_ERR_SERVER_UNREACHABLE')
      assert.match(
        err.message,
        /GET \/v1\/campaigns\/c1 with something that is not a campaign \("progress" is not an object\)/,
      )
      return true
    })
  })

  test('a complete reply is read: done exits 0, failed exits 1', async () => {
    campaign = { id: 'c1', state: 'done', error: null, progress: { ...counts, total: 3 } }
    assert.equal(await run(), 0)
    campaign = { id: 'c1', state: 'failed', error: 'template missing', progress: counts }
    assert.equal(await run(), 1)
  })

  test('each field is checked', () => {
    const ok = { id: 'c1', state: 'running', error: null, progress: { ...counts, etaMs: 5 } }
    assert.equal(campaignViewProblem(ok), undefined)
    const cases: [unknown, RegExp][] = [
      [[], /not a JSON object/],
      [{ ...ok, id: 1 }, /"id"/],
      [{ ...ok, state: 'sleeping' }, /"state" is not one of/],
      [{ ...ok, error: 3 }, /"error"/],
      [{ ...ok, progress: { ...counts, sent: '2' } }, /"progress\.sent" is not a number/],
      [{ ...ok, progress: { ...counts, etaMs: 'soon' } }, /"progress\.etaMs" is not a number/],
    ]
    for (const [body, problem] of cases) assert.match(campaignViewProblem(body) ?? 'accepted', problem)
  })
})
