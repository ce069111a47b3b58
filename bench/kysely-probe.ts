/**
 * A one-off probe (issue 10, not in bench/run.ts): does building the processor commit's hottest
 * statement with Kysely cost anything next to the prepared statement SqliteBatchStore runs today?
 * One commit = one IMMEDIATE transaction upserting 100 profiles into a WAL file with the store's
 * pragmas (synchronous=FULL). Variants, measured in interleaved rounds in one run:
 * - prepared: the store's statement, prepared once (today);
 * - kysely-compiled-once: Kysely compiles the statement once at start, prepared once, run per row;
 * - kysely-compile-per-call: the query built and compiled per row, statements cached by SQL text;
 * - kysely-executor: Kysely's own SqliteDialect executing each row (build, compile, prepare, async).
 * Kysely is not a dependency of the project: run with KYSELY=/path/to/node_modules/kysely/dist/index.js
 *   KYSELY=… npx tsx bench/kysely-probe.ts
 */
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqlite } from '../src/db/sqlite.ts'

const ROWS = 100
const ROUNDS = Number(process.env.ROUNDS ?? 30)
const COMMITS_PER_ROUND = 20

// biome-ignore lint/suspicious/noExplicitAny: the module is loaded from a path given at run time
const k: any = await import(process.env.KYSELY ?? 'kysely')

const dir = join(tmpdir(), `kysely-probe-${process.pid}`)
const db = openSqlite(join(dir, 'store.db'), 'full')
db.exec(`CREATE TABLE profiles (
  workspace_id TEXT NOT NULL, profile_id TEXT NOT NULL, user_id TEXT, state TEXT NOT NULL,
  version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  last_event_received_at INTEGER NOT NULL, PRIMARY KEY (workspace_id, profile_id)) WITHOUT ROWID`)

interface Row {
  workspace_id: string
  profile_id: string
  user_id: string
  state: string
  version: number
  created_at: number
  updated_at: number
  last_event_received_at: number
}

let n = 0
function batch(): Row[] {
  n += 1
  const state = JSON.stringify({ traits: { email: 'ann@example.com', plan: 'pro' }, computed: { orders: n } })
  return Array.from({ length: ROWS }, (_, i) => ({
    workspace_id: 'w',
    profile_id: `p${(n * 37 + i) % 5000}`,
    user_id: `u${i}`,
    state,
    version: n,
    created_at: 1,
    updated_at: n,
    last_event_received_at: n,
  }))
}

const UPDATE = ['user_id', 'state', 'version', 'updated_at', 'last_event_received_at'] as const
const upsert = db.prepare(
  `INSERT INTO profiles (workspace_id, profile_id, user_id, state, version, created_at, updated_at, last_event_received_at)
   VALUES (@workspace_id, @profile_id, @user_id, @state, @version, @created_at, @updated_at, @last_event_received_at)
   ON CONFLICT (workspace_id, profile_id) DO UPDATE SET user_id = excluded.user_id, state = excluded.state,
     version = excluded.version, updated_at = excluded.updated_at, last_event_received_at = excluded.last_event_received_at`,
)

const kysely = new k.Kysely({ dialect: new k.SqliteDialect({ database: db }) })
// biome-ignore lint/suspicious/noExplicitAny: Kysely is typed `any` here (see the import)
const build = (q: any, r: Row) =>
  q
    .insertInto('profiles')
    .values(r)
    // biome-ignore lint/suspicious/noExplicitAny: as above
    .onConflict((oc: any) =>
      oc
        .columns(['workspace_id', 'profile_id'])
        // biome-ignore lint/suspicious/noExplicitAny: as above
        .doUpdateSet(Object.fromEntries(UPDATE.map((c) => [c, (eb: any) => eb.ref(`excluded.${c}`)]))),
    )

const first = build(kysely, batch()[0]!).compile()
const once = db.prepare(first.sql)
const cache = new Map<string, ReturnType<typeof db.prepare>>()

const variants: Record<string, () => Promise<void>> = {
  prepared: async () => {
    const rows = batch()
    db.transaction(() => {
      for (const r of rows) upsert.run(r)
    }).immediate()
  },
  'kysely-compiled-once': async () => {
    const rows = batch()
    db.transaction(() => {
      for (const r of rows) once.run(Object.values(r))
    }).immediate()
  },
  'kysely-compile-per-call': async () => {
    const rows = batch()
    db.transaction(() => {
      for (const r of rows) {
        const q = build(kysely, r).compile()
        let stmt = cache.get(q.sql)
        if (!stmt) {
          stmt = db.prepare(q.sql)
          cache.set(q.sql, stmt)
        }
        stmt.run(q.parameters)
      }
    }).immediate()
  },
  'kysely-executor': async () => {
    const rows = batch()
    // biome-ignore lint/suspicious/noExplicitAny: as above
    await kysely.transaction().execute(async (trx: any) => {
      for (const r of rows) await build(trx, r).execute()
    })
  },
}

const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((v) => [v, []]))
for (const run of Object.values(variants)) for (let i = 0; i < 5; i++) await run() // warm-up
for (let round = 0; round < ROUNDS; round++) {
  // Interleaved, in a rotating order, so drift on a shared machine hits every variant alike.
  const names = Object.keys(variants)
  const order = names.map((_, i) => names[(i + round) % names.length]!)
  for (const name of order) {
    const t0 = performance.now()
    for (let c = 0; c < COMMITS_PER_ROUND; c++) await variants[name]!()
    times[name]!.push((performance.now() - t0) / COMMITS_PER_ROUND)
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const base = median(times.prepared!)
const result = Object.fromEntries(
  Object.entries(times).map(([name, xs]) => [
    name,
    { msPerCommit: Number(median(xs).toFixed(3)), ratioToPrepared: Number((median(xs) / base).toFixed(2)) },
  ]),
)
process.stdout.write(
  `${JSON.stringify({ probe: 'kysely', kysely: k.Kysely ? 'loaded' : '?', rows: ROWS, rounds: ROUNDS, result })}\n`,
)
await kysely.destroy()
rmSync(dir, { recursive: true, force: true })
