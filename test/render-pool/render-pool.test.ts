/**
 * Previews and open-time renders run in the render pool's worker threads (src/render-pool): while a
 * draft's MJML compiles in a worker, this thread — the HTTP event loop — answers /healthz; the
 * workers' connected-content calls go through the process's one connected content (one cache for
 * every worker); a preview renders in a worker exactly as Renderer renders it here.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { RENDER_WORKER_NICE } from '../../src/core/thread-priority.ts'
import type { EmailTask } from '../../src/render-pool/render-tasks.ts'
import { startTestApp, type TestApp, tempDir } from '../helpers/app.ts'

/** A body whose MJML takes the better part of a second to compile on this machine kind (CPU-bound). */
const section = (i: number) =>
  `<mj-section><mj-column><mj-text>Row ${i} {{ first_name }}</mj-text><mj-button href="https://shop.example/${i}">Go</mj-button></mj-column></mj-section>`
const BIG = `<mjml><mj-body>${Array.from({ length: 120 }, (_, i) => section(i)).join('')}</mj-body></mjml>`

let app: TestApp
let source: Server
let sourceCalls = 0
let base = ''

const admin = () => ({
  authorization: `Bearer ${app.workspace.adminKey}`,
  'content-type': 'application/json',
})

before(async () => {
  source = createServer((_req, res) => {
    sourceCalls += 1
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ title: 'Picked for you' }))
  })
  await new Promise<void>((r) => source.listen(0, '127.0.0.1', r))
  const host = `127.0.0.1:${(source.address() as AddressInfo).port}`
  base = `http://${host}`
  const contentFile = join(tempDir(), 'content.json')
  writeFileSync(contentFile, JSON.stringify({ connectedContent: { allowHosts: [host] } }))
  app = await startTestApp({ contentFile })
  await app.renders.whenReady()
  // The first /healthz of a process is slower (its first answer's code paths); not the one measured.
  await (await fetch(`${app.url}/healthz`)).text()
})

after(async () => {
  await app.close()
  source.close()
})

/** Resolves with the task the next time the app's render pool is asked for an email render. */
function nextEmailRender(): Promise<EmailTask> {
  const renders = app.renders
  const email = renders.email.bind(renders)
  return new Promise((resolve) => {
    renders.email = (task) => {
      renders.email = email
      const pending = email(task)
      resolve(task)
      return pending
    }
  })
}

/** Renders the pool's workers have answered so far. */
const answered = () => app.renders.stats().reduce((n, w) => n + w.answered, 0)

/** Which request answered first: the health check or the render. */
async function first(health: Promise<unknown>, render: Promise<unknown>): Promise<'health' | 'render'> {
  return Promise.race([health.then(() => 'health' as const), render.then(() => 'render' as const)])
}

/** The nice value of each thread of this process (Linux /proc: field 19 of a task's stat). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
  })
}

describe('renders off the event loop', () => {
  test('the render workers give way to the event loop: their threads run niced, this one does not', {
    skip: process.platform === 'linux' ? false : 'thread nice values are set on Linux only',
  }, () => {
    // Every worker of the pool (a worker sets its nice value first thing, ready or still warming up).
    const workers = app.renders.stats().length
    assert.ok(workers >= 1)
    const nices = threadNices()
    assert.equal(nices.filter((n) => n === RENDER_WORKER_NICE).length, workers, `nice values ${nices}`)
    const self = readFileSync('/proc/thread-self/stat', 'utf8')
    assert.equal(
      Number(self.slice(self.lastIndexOf(')') + 2).split(' ')[16]),
      0,
      'the event loop keeps nice 0',
    )
  })

  test("/healthz is answered while a draft preview's MJML compiles", { timeout: 60_000 }, async () => {
    const before = answered()
    const asked = nextEmailRender()
    const preview = fetch(`${app.url}/v1/templates/big/preview`, {
      method: 'POST',
      headers: admin(),
      body: JSON.stringify({ draft: { subject: 'Hi', mjml: BIG }, profile: { first_name: 'Ada' } }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { html?: string } }))
    // The render has been handed over (in this thread it would be compiling now, holding the loop).
    await asked
    const health = fetch(`${app.url}/healthz`).then((r) => r.status)
    assert.equal(await first(health, preview), 'health')
    assert.equal(await health, 200)
    const done = await preview
    assert.equal(done.status, 200)
    assert.match(done.body.html ?? '', /Row 119 Ada/)
    assert.equal(answered() - before, 1, 'a worker rendered it')
  })

  test('an open-time view of a version compiled in a worker leaves /healthz answered first', {
    timeout: 60_000,
  }, async () => {
    const put = await fetch(`${app.url}/v1/templates/bigview`, {
      method: 'PUT',
      headers: admin(),
      body: JSON.stringify({ subject: 'Hi', mjml: BIG }),
    })
    const saved = (await put.json()) as { version: number }
    assert.ok(put.status < 300, JSON.stringify(saved))
    const { version } = saved
    const token = app.codec.sign(
      {
        kind: 'open-time',
        workspaceId: app.workspace.id,
        campaignId: 'c',
        recipient: 'nobody',
        messageId: 'm-view',
        templateId: 'bigview',
        version,
      },
      86_400_000,
    )
    const before = answered()
    const asked = nextEmailRender()
    const view = fetch(`${app.url}/o/${token}/view`).then(async (r) => ({
      status: r.status,
      body: await r.text(),
    }))
    await asked
    const health = fetch(`${app.url}/healthz`).then((r) => r.status)
    assert.equal(await first(health, view), 'health')
    assert.equal((await view).status, 200)
    assert.equal(answered() - before, 1, 'a worker rendered it')
  })

  test("previews' connected content goes through the process's one cache, whichever worker renders", async () => {
    const html = `{% connected_content ${base}/recs :save recs :cache_max_age 60 %}<h2>{{ recs.title }}</h2>`
    // Six templates calling one URL: each version renders in its key's worker, so both workers render some.
    const ids = Array.from({ length: 6 }, (_, i) => `recs-${i}`)
    for (const id of ids) {
      const put = await fetch(`${app.url}/v1/templates/${id}`, {
        method: 'PUT',
        headers: admin(),
        body: JSON.stringify({ subject: 'Recs', html }),
      })
      assert.ok(put.status < 300, JSON.stringify(await put.json()))
    }
    const answeredBefore = new Map(app.renders.stats().map((w) => [w.threadId, w.answered]))
    const before = sourceCalls
    const answers = await Promise.all(
      ids.map((id) =>
        fetch(`${app.url}/v1/templates/${id}/preview`, {
          method: 'POST',
          headers: admin(),
          // A loaded test host must not turn the source's answer into a timeout.
          body: JSON.stringify({ profile: {}, deadlineMs: 10_000 }),
        }).then(async (r) => (await r.json()) as { html: string; report: unknown }),
      ),
    )
    for (const a of answers) assert.match(a.html, /Picked for you/, JSON.stringify(a.report))
    assert.ok(
      app.renders.stats().every((w) => w.answered > (answeredBefore.get(w.threadId) ?? 0)),
      'every worker rendered some',
    )
    assert.equal(sourceCalls - before, 1)
  })

  test('a preview rendered in a worker is the message Renderer renders in this thread', async () => {
    const html = '<p>Hi {{ first_name | default: "there" }}, {{ missing_trait }}</p>'
    await fetch(`${app.url}/v1/templates/same`, {
      method: 'PUT',
      headers: admin(),
      body: JSON.stringify({ subject: 'For {{ first_name }}', html }),
    })
    const profile = { first_name: 'Grace' }
    const pooled = (await (
      await fetch(`${app.url}/v1/templates/same/preview`, {
        method: 'POST',
        headers: admin(),
        body: JSON.stringify({ profile }),
      })
    ).json()) as { subject: string; html: string; text: string; report: { fallbacks: unknown[] } }
    const here = await app.renderer.render(app.workspace.id, { templateId: 'same', profile })
    assert.ok(here.ok)
    assert.deepEqual(
      [pooled.subject, pooled.html, pooled.text, pooled.report.fallbacks],
      [here.subject, here.html, here.text, here.report.fallbacks],
    )
  })
})
