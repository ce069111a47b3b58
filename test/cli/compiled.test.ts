/**
 * `npm start` and the CLI run the compiled output (dist/, scripts/build.mjs), not TypeScript
 * through tsx (issue 14: start-up). Every child here runs under test/helpers/no-tsx.mjs, which
 * makes any import of tsx fail, in the main thread and in the workers.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { cliArgs, ensureBuilt } from '../../scripts/dist.ts'
import { basicAuth, tempDir } from '../helpers/app.ts'
import { type ServerProcess, startServerProcess, testKey, waitForZeroLag } from '../helpers/server-process.ts'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname
const NO_TSX = ['--import', './test/helpers/no-tsx.mjs']
const cleanEnv = () =>
  Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('INKSTREAM_') && !k.startsWith('NODE_')),
  )

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [...NO_TSX, ...cliArgs(...args)], {
      cwd: ROOT,
      env: { ...cleanEnv(), ...env },
    })
    return { stdout, stderr, code: 0 }
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number }
    return { stdout: e.stdout, stderr: e.stderr, code: e.code }
  }
}

test('the compiled CLI prints its usage with no TypeScript loader', async () => {
  const { stderr, code } = await cli(['--help'])
  assert.equal(code, 0, stderr)
  assert.match(stderr, /^usage: inkstream <command>/)
  assert.match(stderr, /start \[--role/)
  assert.match(stderr, /demo \[--rate/)
})

test('the no-tsx guard refuses tsx (so the other tests prove something)', async () => {
  const failed = await run(process.execPath, [...NO_TSX, '--import', 'tsx', '-e', ''], {
    cwd: ROOT,
    env: cleanEnv(),
  }).then(
    () => undefined,
    (err: { stderr: string }) => err,
  )
  assert.match(failed?.stderr ?? 'it ran', /tsx was loaded at run time/)
})

test('a command loaded on demand (lint of an MJML file) runs compiled', async (t) => {
  const dir = tempDir('inkstream-compiled-')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'welcome.mjml')
  writeFileSync(
    file,
    '---\nsubject: Hello\n---\n<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{ profile.name | default: "there" }}</mj-text></mj-column></mj-section></mj-body></mjml>\n',
  )
  const ok = await cli(['lint', file], { INKSTREAM_DATA_DIR: dir })
  assert.equal(ok.code, 0, ok.stderr)
  writeFileSync(
    file,
    '---\nsubject: Hello\n---\n<mjml><mj-body><mj-section><mj-column><mj-text>{% if %}</mj-text></mj-column></mj-section></mj-body></mjml>\n',
  )
  const bad = await cli(['lint', file], { INKSTREAM_DATA_DIR: dir })
  assert.equal(bad.code, 1, `${bad.stdout}${bad.stderr}`)
})

test('the server runs from dist/ with its workers started from their compiled entries', async (t) => {
  const dataDir = tempDir('inkstream-compiled-server-')
  const writeKey = testKey('wk')
  let server: ServerProcess | undefined
  t.after(() => {
    server?.child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })
  server = await startServerProcess({ dataDir, writeKey, adminKey: testKey('ak'), nodeArgs: NO_TSX })
  // The log writer thread makes the event durable, the processor thread applies it: both workers.
  const res = await fetch(`${server.url}/v1/track`, {
    method: 'POST',
    headers: { authorization: basicAuth(writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({ userId: 'u1', event: 'Signed Up', messageId: 'compiled-1' }),
  })
  assert.equal(res.status, 200, await res.text())
  await waitForZeroLag(server.url, 30_000, server.output)
  const health = (await (await fetch(`${server.url}/healthz`)).json()) as { processor: string }
  assert.equal(health.processor, 'running')
  assert.doesNotMatch(server.output(), /tsx was loaded/)
})

test('the drawing pool starts its thread from dist/ (a worker the server never waits for)', async (t) => {
  // DrawPool falls back to drawing in its own thread when its worker fails: ask for `ready`.
  // A script file, not `-e`: workers inherit the process's execArgv, --eval included.
  const dir = tempDir('inkstream-compiled-draw-')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const script = join(dir, 'draw.mjs')
  writeFileSync(
    script,
    `const { DrawPool } = await import(${JSON.stringify(`${ROOT}dist/opentime/draw-pool.js`)})
const pool = new DrawPool()
pool.start()
const until = Date.now() + 60000
while (!pool.ready && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
process.stdout.write(String(pool.ready))
process.exit(0)
`,
  )
  ensureBuilt()
  const { stdout } = await run(process.execPath, [...NO_TSX, script], { cwd: ROOT, env: cleanEnv() })
  assert.equal(stdout, 'true')
})

test('`start` listens while its consumers start, and exits 1 when the processor cannot start', {
  timeout: 60_000,
}, async (t) => {
  const dataDir = tempDir('inkstream-compiled-nostart-')
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const { stdout, stderr, code } = await cli(['start'], {
    INKSTREAM_DATA_DIR: dataDir,
    INKSTREAM_PORT: '0',
    INKSTREAM_LOG_LEVEL: 'silent',
    INKSTREAM_FAILPOINTS: 'processor.start=throw',
  })
  // The banner came first (the server listened before the processor's thread was up), then the exit.
  assert.match(stdout, /Inkstream is running at http:\/\/127\.0\.0\.1:\d+/)
  assert.match(stderr, /failpoint processor\.start/)
  assert.equal(code, 1)
})
