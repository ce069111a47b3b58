/**
 * `inkstream preview` and `inkstream lint <id>` read the server's answers through schemas
 * (src/cli/answers.ts): a server that answers JSON of another shape gets INK_ERR_SERVER_UNREACHABLE
 * naming the field, never a TypeError while printing the report.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { lint } from '../../src/cli/lint.ts'
import { preview } from '../../src/cli/preview.ts'
import { loadConfig } from '../../src/config.ts'
import { isInkError } from '../../src/core/errors.ts'

/** A real HTTP server that answers every request with `answer` as JSON. */
let server: Server
let url: string
let answer: { status: number; body: unknown }
before(async () => {
  server = createServer((_req, res) => {
    res.statusCode = answer.status
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(answer.body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => new Promise<void>((resolve) => server.close(() => resolve())))

const config = () => loadConfig({}, { logLevel: 'silent' })
const key = async () => 'key'
const refusedNaming = (field: RegExp) => (err: unknown) => {
  assert.ok(isInkError(err), String(err))
  assert.equal(err.code, 'INK_ERR_SERVER_UNREACHABLE')
  assert.match(err.message, field)
  return true
}
const report = {
  templateId: 't',
  version: 1,
  durationMs: 3,
  deadlineMs: 500,
  profile: { outcome: 'live' },
  fallbacks: [],
  sources: [],
}

describe('the CLI reads preview and lint answers through schemas', () => {
  test('a preview answer without its report is refused, naming the field', async () => {
    answer = { status: 200, body: { ok: true, subject: 's', preheader: '', html: '<p>h</p>', text: 'h' } }
    await assert.rejects(preview(config(), ['t', '--url', url], key), refusedNaming(/a preview .*"report"/))
  })

  test('a preview answer whose report has a wrong field is refused, naming it', async () => {
    answer = {
      status: 200,
      body: {
        ok: true,
        subject: 's',
        preheader: '',
        html: '',
        text: '',
        report: { ...report, sources: [{}] },
      },
    }
    await assert.rejects(
      preview(config(), ['t', '--url', url], key),
      refusedNaming(/"report\.sources\.0\.name"/),
    )
  })

  test('well-formed answers are printed: rendered exits 0, failed with a report exits 1', async () => {
    answer = { status: 200, body: { ok: true, subject: 's', preheader: '', html: '', text: 'hi', report } }
    assert.equal(await preview(config(), ['t', '--url', url], key), 0)
    answer = { status: 422, body: { code: 'INK_ERR_RENDER_LIMIT', message: 'too big', report } }
    assert.equal(await preview(config(), ['t', '--url', url], key), 1)
  })

  test('a lint answer whose problems have another shape is refused, naming the field', async () => {
    answer = {
      status: 200,
      body: { problems: [{ level: 'fatal', code: 'x', part: 'body', line: 1, message: 'm' }] },
    }
    await assert.rejects(
      lint(config(), ['stored-id', '--url', url], key),
      refusedNaming(/a lint .*"problems\.0\.level"/),
    )
    answer = {
      status: 200,
      body: { problems: [{ level: 'error', code: 'liquid', part: 'body', line: 1, message: 'm' }] },
    }
    assert.equal(await lint(config(), ['stored-id', '--url', url], key), 1)
  })
})
