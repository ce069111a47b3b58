import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { promisify } from 'node:util'
import { openPg } from '../../src/db/pg.ts'
import { PgWorkspaceStore } from '../../src/workspaces/pg-workspace-store.ts'
import { startTestApp, tempDir } from '../helpers/app.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'

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
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...clean, ...env },
    })
    return { stdout, stderr, code: 0 }
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number }
    return { stdout: e.stdout, stderr: e.stderr, code: e.code }
  }
}

describe('inkstream CLI', () => {
  test('lint prints each problem with its line and exits 1 when there are errors', async () => {
    const dir = tempDir('inkstream-cli-')
    writeFileSync(
      join(dir, 'ok.mjml'),
      '---\nsubject: "Hi {{ first_name }}"\n---\n<mjml><mj-body><mj-section><mj-column><mj-text>\n{{ last_name }}</mj-text></mj-column></mj-section></mj-body></mjml>',
    )
    writeFileSync(
      join(dir, 'bad.mjml'),
      '---\nsubject: x\n---\n<mjml>\n<mj-body>\n<mj-text>x</mj-text>\n</mj-body>\n</mjml>',
    )
    const env = { INKSTREAM_DATA_DIR: join(dir, 'data') }
    const ok = await cli(['lint', join(dir, 'ok.mjml')], env)
    assert.equal(ok.code, 0)
    assert.match(ok.stdout, /ok\.mjml: body:2: warning no-fallback: \{\{ last_name \}\}/)
    const bad = await cli(['lint', join(dir, 'bad.mjml')], env)
    assert.equal(bad.code, 1)
    assert.match(bad.stdout, /bad\.mjml: body:3: error mjml: mj-text cannot be used inside mj-body/)
  })

  test('preview renders a stored template with an injected failure and prints the report', async () => {
    const dir = tempDir('inkstream-cli-')
    writeFileSync(
      join(dir, 'promo.html'),
      '---\nsubject: \'{{ first_name | default: "Hi" }}, picks\'\n---\n{% connected_content https://recs.example.com/x :save recs :timeout 200 %}<p>{{ recs.title | default: "Bestsellers" }}</p>',
    )
    const env = { INKSTREAM_DATA_DIR: join(dir, 'data'), INKSTREAM_TEMPLATES_DIR: dir }
    const out = await cli(['preview', 'promo', '--profile', '{"first_name":"Ann"}', '--fail', 'recs'], env)
    assert.equal(out.code, 0, out.stdout)
    assert.match(out.stdout, /^Subject: {3}Ann, picks$/m)
    assert.match(out.stdout, /Bestsellers/)
    assert.match(out.stdout, /source recs: error .*injected failure/)
    assert.match(out.stdout, /fallback recs\.title: error → "Bestsellers" \[default-filter\]/)
  })
})

describe('inkstream keys', () => {
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
