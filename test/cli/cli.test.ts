import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { cliArgs } from '../../scripts/dist.ts'
import { openPg } from '../../src/db/pg.ts'
import { PgWorkspaceStore } from '../../src/workspaces/pg-workspace-store.ts'
import { startTestApp, type TestApp, tempDir } from '../helpers/app.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'
import { closedPort } from '../helpers/ports.ts'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname

/** Runs the CLI with a clean INKSTREAM_* environment; resolves with stdout and the exit code. */
async function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ stdout: string; stderr: string; code: number }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('INKSTREAM_') && !k.startsWith('NODE_TEST')),
  )
  try {
    const { stdout, stderr } = await run(process.execPath, cliArgs(...args), {
      cwd: ROOT,
      env: { ...clean, ...env },
    })
    return { stdout, stderr, code: 0 }
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number }
    return { stdout: e.stdout, stderr: e.stderr, code: e.code }
  }
}

describe('inkstream lint and preview, done by the running server', () => {
  const dir = tempDir('inkstream-cli-')
  let app: TestApp
  let env: Record<string, string>
  before(async () => {
    writeFileSync(
      join(dir, 'promo.html'),
      '---\nsubject: \'{{ first_name | default: "Hi" }}, picks\'\n---\n{% connected_content https://recs.example.com/x :save recs :timeout 200 %}<p>{{ recs.title | default: "Bestsellers" }}</p>',
    )
    writeFileSync(
      join(dir, 'only-en.html'),
      "---\nsubject: News\n---\n{% if language == 'en' %}<p>Read this in English.</p>{% else %}{% abort_message('language is not en') %}{% endif %}",
    )
    writeFileSync(join(dir, 'huge.html'), '---\nsubject: Huge\n---\n<p>{{ (1..5000000) | join: "," }}</p>')
    app = await startTestApp({ dataDir: join(dir, 'data'), templatesDir: dir })
    // Only the URL and the key lead to the server: the data folder the CLI is given has no store.
    env = {
      INKSTREAM_URL: app.url,
      INKSTREAM_ADMIN_KEY: app.workspace.adminKey,
      INKSTREAM_DATA_DIR: join(dir, 'none'),
    }
  })
  after(async () => {
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('lint prints each problem with its line and exits 1 when there are errors', async () => {
    const lintDir = tempDir('inkstream-cli-')
    writeFileSync(
      join(lintDir, 'ok.mjml'),
      '---\nsubject: "Hi {{ first_name }}"\n---\n<mjml><mj-body><mj-section><mj-column><mj-text>\n{{ last_name }}</mj-text></mj-column></mj-section></mj-body></mjml>',
    )
    writeFileSync(
      join(lintDir, 'bad.mjml'),
      '---\nsubject: x\n---\n<mjml>\n<mj-body>\n<mj-text>x</mj-text>\n</mj-body>\n</mjml>',
    )
    const ok = await cli(['lint', join(lintDir, 'ok.mjml')], env)
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /ok\.mjml: body:2: warning no-fallback: \{\{ last_name \}\}/)
    const bad = await cli(['lint', join(lintDir, 'bad.mjml')], env)
    assert.equal(bad.code, 1)
    assert.match(bad.stdout, /bad\.mjml: body:3: error mjml: mj-text cannot be used inside mj-body/)
    // A stored template by id, and a name that is neither.
    const stored = await cli(['lint', 'promo'], env)
    assert.equal(stored.code, 0, stored.stderr)
    assert.equal(stored.stdout, 'promo: no problems\n')
    const neither = await cli(['lint', 'nope'], env)
    assert.equal(neither.code, 1)
    assert.match(
      neither.stderr,
      /INK_ERR_NOT_FOUND: "nope" is neither a file nor a template stored on the server at http:/,
    )
    assert.deepEqual(readdirSync(dir).sort(), ['data', 'huge.html', 'only-en.html', 'promo.html'])
    rmSync(lintDir, { recursive: true, force: true })
  })

  test('preview renders a stored template with an injected failure and prints the report', async () => {
    const out = await cli(['preview', 'promo', '--profile', '{"first_name":"Ann"}', '--fail', 'recs'], env)
    assert.equal(out.code, 0, out.stderr)
    assert.match(out.stdout, /^Subject: {3}Ann, picks$/m)
    assert.match(out.stdout, /Bestsellers/)
    assert.match(out.stdout, /source recs: error .*injected failure/)
    assert.match(out.stdout, /fallback recs\.title: error → "Bestsellers" \[default-filter\]/)
  })

  test('preview of a template that skips the recipient (abort_message) prints the skip and exits 0', async () => {
    const out = await cli(['preview', 'only-en', '--profile', '{"language":"fr"}'], env)
    assert.equal(out.code, 0, out.stderr)
    assert.match(
      out.stdout,
      /^Skipped: {3}no message for this recipient \(abort_message: language is not en\)$/m,
    )
    assert.match(out.stdout, /template only-en v1: SKIPPED \(abort_message: language is not en\)/)
    assert.doesNotMatch(out.stdout, /Subject:/)
    const json = await cli(['preview', 'only-en', '--profile', '{"language":"fr"}', '--json'], env)
    assert.equal(json.code, 0, json.stderr)
    assert.deepEqual(JSON.parse(json.stdout).skipped, { type: 'abort_message', reason: 'language is not en' })
    // Rendered for an English reader; a render that fails is still exit 1.
    const en = await cli(['preview', 'only-en', '--profile', '{"language":"en"}'], env)
    assert.equal(en.code, 0, en.stderr)
    assert.match(en.stdout, /Read this in English\./)
    const failed = await cli(['preview', 'huge'], env)
    assert.equal(failed.code, 1, failed.stdout)
    assert.match(failed.stdout, /template huge v1: FAILED \(/)
    const missing = await cli(['preview', 'nope'], env)
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /INK_ERR_NOT_FOUND: /)
  })

  test('with no server, preview and lint say so and create no data folder or database', async () => {
    const empty = tempDir('inkstream-cli-')
    const file = join(dir, 'promo.html')
    try {
      const nowhere = {
        INKSTREAM_DATA_DIR: join(empty, 'data'),
        INKSTREAM_PORT: String(await closedPort()),
      }
      for (const args of [
        ['preview', 'promo'],
        ['lint', 'promo'],
        ['lint', file, '--url', `http://127.0.0.1:${nowhere.INKSTREAM_PORT}`],
      ]) {
        // No key anywhere: said before any request.
        const noKey = await cli(args, nowhere)
        assert.equal(noKey.code, 1, `${args.join(' ')}: ${noKey.stdout}`)
        assert.match(noKey.stderr, /INK_ERR_UNAUTHORIZED: no admin key: set INKSTREAM_ADMIN_KEY/)
        // A key, but nothing listening.
        const down = await cli(args, { ...nowhere, INKSTREAM_ADMIN_KEY: 'ak_0123456789abcdefghij' })
        assert.equal(down.code, 1, `${args.join(' ')}: ${down.stdout}`)
        assert.match(
          down.stderr,
          /INK_ERR_SERVER_UNREACHABLE: no Inkstream server at http:\/\/127\.0\.0\.1:\d+ \(connection refused\)/,
        )
      }
      assert.deepEqual(readdirSync(empty), [])
    } finally {
      rmSync(empty, { recursive: true, force: true })
    }
  })

  test("lint of a file needs no server: checked here with the templates folder's blocks, nothing created", async () => {
    const empty = tempDir('inkstream-cli-')
    const templates = tempDir('inkstream-cli-')
    try {
      mkdirSync(join(templates, 'blocks'))
      writeFileSync(join(templates, 'blocks', 'footer.liquid'), '<p>{{ unsubscribe_note }}</p>')
      writeFileSync(
        join(templates, 'welcome.html'),
        "---\nsubject: \"Hi {{ first_name | default: 'there' }}\"\n---\n<p>Hello</p>{% render 'footer' %}",
      )
      writeFileSync(join(templates, 'broken.html'), '---\nsubject: x\n---\n<p>{% if %}</p>')
      const offline = {
        INKSTREAM_DATA_DIR: join(empty, 'data'),
        INKSTREAM_PORT: String(await closedPort()),
        INKSTREAM_TEMPLATES_DIR: templates,
      }
      // Even where the scale-out backends are configured and down: a file lint touches neither.
      const down = {
        INKSTREAM_KAFKA_BROKERS: `127.0.0.1:${offline.INKSTREAM_PORT}`,
        INKSTREAM_DATABASE_URL: `postgres://127.0.0.1:${offline.INKSTREAM_PORT}/none`,
      }
      const ok = await cli(['lint', join(templates, 'welcome.html')], { ...offline, ...down })
      assert.equal(ok.code, 0, ok.stderr)
      // The block was found (no liquid error) and read: its placeholder has no fallback.
      assert.match(ok.stdout, /welcome\.html: .*warning (no-fallback|unknown-trait): .*unsubscribe_note/)
      assert.doesNotMatch(ok.stdout, /error/)
      const bad = await cli(['lint', join(templates, 'broken.html')], offline)
      assert.equal(bad.code, 1, bad.stdout)
      assert.match(bad.stdout, /broken\.html: body:1: error liquid: /)
      // Without the templates folder, the block is missing: an error, found without a server.
      const { INKSTREAM_TEMPLATES_DIR: _, ...noBlocks } = offline
      const missing = await cli(['lint', join(templates, 'welcome.html')], noBlocks)
      assert.equal(missing.code, 1, missing.stdout)
      assert.match(missing.stdout, /welcome\.html: .*error liquid: .*footer/)
      assert.deepEqual(readdirSync(empty), [])
    } finally {
      rmSync(empty, { recursive: true, force: true })
      rmSync(templates, { recursive: true, force: true })
    }
  })
})

describe('inkstream keys', () => {
  test('says plainly when the scale-out database cannot be reached', async () => {
    const port = await closedPort()
    const out = await cli(['keys'], {
      INKSTREAM_KAFKA_BROKERS: `127.0.0.1:${port}`,
      INKSTREAM_DATABASE_URL: `postgres://127.0.0.1:${port}/none`,
    })
    assert.equal(out.code, 1, out.stdout)
    assert.match(
      out.stderr,
      new RegExp(
        `^INK_ERR_SERVER_UNREACHABLE: cannot reach the PostgreSQL database at postgres://127\\.0\\.0\\.1:${port}/none \\(ECONNREFUSED\\)`,
      ),
    )
  })

  test('prints the keys of the server whose data folder it is given', async () => {
    const dataDir = tempDir('inkstream-cli-')
    const app = await startTestApp({ dataDir })
    try {
      // Read while the server runs: the database is shared with it.
      const out = await cli(['keys'], { INKSTREAM_DATA_DIR: app.dataDir })
      assert.equal(out.code, 0, out.stdout)
      assert.equal(
        out.stdout,
        `export INK_WRITE_KEY=${app.workspace.writeKey}\nexport INK_ADMIN_KEY=${app.workspace.adminKey}\n`,
      )
      const admin = await cli(['keys', '--admin'], { INKSTREAM_DATA_DIR: app.dataDir })
      assert.equal(admin.stdout, `${app.workspace.adminKey}\n`)
    } finally {
      await app.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  test('with no database in the data folder it says so and creates nothing', async () => {
    const dir = tempDir('inkstream-cli-')
    try {
      const out = await cli(['keys'], { INKSTREAM_DATA_DIR: join(dir, 'data') })
      assert.equal(out.code, 1)
      assert.equal(out.stdout, '')
      assert.match(out.stderr, /no Inkstream database at .*data\/inkstream\.db/)
      assert.match(out.stderr, /INKSTREAM_DATA_DIR/)
      assert.deepEqual(readdirSync(dir), [])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('inkstream keys in scale-out mode', () => {
  test('reads the keys from PostgreSQL, and says so when the database has no Inkstream store', async (t) => {
    const skip = await pgSkip()
    if (skip) return t.skip(skip)
    const db = await freshDatabase('ink_cli')
    const empty = await freshDatabase('ink_cli')
    const pool = openPg(db.url, { max: 1 })
    try {
      const workspaces = await PgWorkspaceStore.open(pool)
      const ws = await workspaces.ensure('default', {})
      await workspaces.close()
      // Kafka is never contacted by `keys`; the setting only says which mode this is.
      const scale = {
        INKSTREAM_KAFKA_BROKERS: '127.0.0.1:9092',
        INKSTREAM_DATA_DIR: tempDir('inkstream-cli-'),
      }
      const out = await cli(['keys', '--admin'], { ...scale, INKSTREAM_DATABASE_URL: db.url })
      assert.equal(out.code, 0, out.stderr)
      assert.equal(out.stdout, `${ws.adminKey}\n`)
      const none = await cli(['keys'], { ...scale, INKSTREAM_DATABASE_URL: empty.url })
      assert.equal(none.code, 1)
      assert.match(none.stderr, /INK_ERR_NOT_FOUND: no Inkstream database at postgres:\/\/.*ink_cli_/)
      assert.deepEqual(readdirSync(scale.INKSTREAM_DATA_DIR), [])
    } finally {
      await pool.end()
      await db.drop()
      await empty.drop()
    }
  })
})
