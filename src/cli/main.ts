#!/usr/bin/env node
/** The `inkstream` command: start | demo | keys | preview | send | lint | anomalies | dns-check. */
/*
 * Each command imports what it needs when it runs (issue 14: start-up ≤ 1 s): `--help`, `lint` or
 * `keys` must not load the server (fastify, mjml, satori, the Kafka and PostgreSQL clients…).
 */
import type { Config } from '../config.ts'
import { isInkError } from '../core/errors.ts'
import { DEMO_USAGE } from './demo-usage.ts'

const USAGE = `usage: inkstream <command>

  start [--role collector,processor,api,sender]
                   run everything in one process (embedded SQLite), or, with the scale-out
                   backends configured (Kafka, PostgreSQL), the given roles (default all)
  ${DEMO_USAGE}
  keys [--write|--admin]
                   print the workspace's keys (as shell exports, or one key alone), read from
                   the server's store (INKSTREAM_DATA_DIR, or INKSTREAM_DATABASE_URL)
  preview <template> [--user <id>] [--delay source=ms] [--fail source] [--drop trait]
          [--profile-delay ms] [--deadline ms] [--profile JSON] [--version n] [--html|--json] [--url URL]
                   render a template on the running server with a profile and injected faults, and
                   print the report (exit code 0 also when the template skips the recipient)
  send <campaign-id> [--url URL]
                   start or resume a campaign on the running server and show its progress
  lint <file.mjml|file.html|template-id>… [--url URL]
                   list template problems (exit code 1 on errors): a file is checked here, with
                   blocks from INKSTREAM_TEMPLATES_DIR/blocks (by the server with --url or
                   INKSTREAM_URL); a template id by the running server
  anomalies detect --input <series.csv|-> [--threshold n] [--direction both|up|down] [--min-scale n]
          [--step seconds] [--quiet-points n] [--only-anomalies]
                   backtest the server's anomaly detector on a CSV of timestamp,value rows: one line
                   per row with the expected range, score and anomaly flag (exit code 2 on bad rows)
  dns-check <domain> [--dns-server host[:port]]… [--timeout ms]
                   print the SPF, DKIM (each INKSTREAM_DKIM selector) and DMARC records the domain
                   needs and whether DNS has them (exit code 1 when one is missing or different)

  preview, send and lint <template-id> talk to the running server (--url, INKSTREAM_URL, or
  http://INKSTREAM_HOST:INKSTREAM_PORT) with the admin key INKSTREAM_ADMIN_KEY, else the one in
  INKSTREAM_DATA_DIR; they never create a data folder or a database.

Settings come from INKSTREAM_* environment variables; see the README.`

/** `--role a,b`, `--role=a`, repeated: the roles for INKSTREAM_ROLES' place; undefined when absent. */
function roleArg(args: readonly string[]): string | undefined {
  const roles: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--role') roles.push(args[++i] ?? '')
    else if (arg.startsWith('--role=')) roles.push(arg.slice('--role='.length))
    else throw new Error(`unknown option "${arg}" for start (options: --role collector,processor,api,sender)`)
  }
  return roles.length === 0 ? undefined : roles.join(',')
}

async function start(args: readonly string[]): Promise<void> {
  const roles = roleArg(args)
  const [{ loadConfig }, { openApp }] = await Promise.all([
    import('../config.ts'),
    import('../compose/root.ts'),
  ])
  const config = loadConfig(process.env, roles === undefined ? {} : { roles })
  // Listens while the processor's and analytics consumer's threads still load (issue 14,
  // start-up ≤ 1 s): acknowledged events wait in the log meanwhile. One that cannot start ends the
  // process, as before, just after the banner rather than before it.
  const app = await openApp(config, { env: process.env, waitForConsumers: false })
  const url = await app.listen()
  process.stdout.write(`${app.banner(url).join('\n')}\n`)
  onSignals(() => app.close())
  app.consumersStarted.catch(async (err: unknown) => {
    await app.close().catch(() => {})
    fail(err)
  })
}

/** SIGINT / SIGTERM: close (the batch in flight completes), then exit. */
function onSignals(close: () => Promise<void>): void {
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    process.stdout.write(`${signal}: shutting down\n`)
    await close()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}

/** The admin key for send / preview / lint: INKSTREAM_ADMIN_KEY, else the local store's; undefined when neither. */
async function adminKeyFor(config: Config): Promise<string | undefined> {
  if (config.adminKey !== undefined) return config.adminKey
  const { readWorkspaceKeys } = await import('./workspace-keys.ts')
  try {
    return (await readWorkspaceKeys(config)).adminKey
  } catch (err) {
    if (isInkError(err) && err.code === 'INK_ERR_NOT_FOUND') return undefined
    throw err
  }
}

async function keys(args: string[]): Promise<void> {
  const [{ loadConfig }, { readWorkspaceKeys }] = await Promise.all([
    import('../config.ts'),
    import('./workspace-keys.ts'),
  ])
  const ws = await readWorkspaceKeys(loadConfig(process.env))
  if (args.includes('--write')) process.stdout.write(`${ws.writeKey}\n`)
  else if (args.includes('--admin')) process.stdout.write(`${ws.adminKey}\n`)
  else process.stdout.write(`export INK_WRITE_KEY=${ws.writeKey}\nexport INK_ADMIN_KEY=${ws.adminKey}\n`)
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start':
      return start(rest)
    case 'demo':
      return (await import('./demo.ts')).demo(rest, process.env)
    case 'keys':
      return keys(rest)
    case 'anomalies':
      process.exitCode = await (await import('./anomalies.ts')).anomalies(rest)
      return
    case 'dns-check':
      process.exitCode = await (await import('./dns-check.ts')).dnsCheck(
        (await import('../config.ts')).loadConfig(process.env),
        rest,
        process.env,
      )
      return
    case 'lint':
    case 'preview':
    case 'send': {
      // Admin API calls to the running server; none of them opens (or creates) a store.
      const config = (await import('../config.ts')).loadConfig(process.env)
      const load = {
        lint: async () => (await import('./lint.ts')).lint,
        preview: async () => (await import('./preview.ts')).preview,
        send: async () => (await import('./send.ts')).send,
      }[command]
      const run = await load()
      // The key is looked up only when a command talks to the server (lint of a file does not).
      process.exitCode = await run(config, rest, () => adminKeyFor(config))
      return
    }
    default:
      process.stderr.write(`${USAGE}\n`)
      process.exitCode = command === undefined || command === '--help' ? 0 : 2
  }
}

/** Says why a command failed (an InkError's code and message, else the stack) and exits 1. */
function fail(err: unknown): never {
  if (isInkError(err)) process.stderr.write(`${err.code}: ${err.message}\n`)
  else process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
}

main(process.argv.slice(2)).catch(fail)
