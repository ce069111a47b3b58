/**
 * `inkstream demo` (`npm run demo`): the embedded server — the same composition as `inkstream start`
 * — on a data folder of its own (`data/demo`), with a demo workspace, templates, segments, triggers
 * and a campaign (demo-setup.ts), its own recommendations API as a connected-content source that is
 * sometimes slow (demo-recs.ts), simulated shoppers sending events through the collector at a steady
 * rate (demo-shoppers.ts), and simulated recipients opening and clicking the messages it sends
 * (demo-reader.ts). Prints the dashboard URL and the admin key to sign in with, then a status line
 * every few seconds; Ctrl-C stops it cleanly (exit code 0).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml'
import { composeEmbedded } from '../compose/root.ts'
import { loadConfig } from '../config.ts'
import { DEFAULT_CONTENT_FILE } from '../content/content-config.ts'
import { invalidConfig } from '../core/errors.ts'
import { MailReader } from './demo-reader.ts'
import { startRecsServer } from './demo-recs.ts'
import { DemoClient, installDemo, shopper } from './demo-setup.ts'
import { Shoppers } from './demo-shoppers.ts'
import { DEMO_USAGE } from './demo-usage.ts'

export interface DemoArgs {
  rate: number
  port: number | undefined
  dataDir: string
  reset: boolean
  /** Seconds between status lines (default 5). */
  statusEvery: number
}

/** Parses the demo's options; throws a message naming the bad one. */
export function parseDemoArgs(args: readonly string[]): DemoArgs {
  const out: DemoArgs = { rate: 10, port: undefined, dataDir: 'data/demo', reset: false, statusEvery: 5 }
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.split(/=(.*)/s, 2) as [string, string | undefined]
    const value = () => {
      const v = inline ?? args[++i]
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`)
      return v
    }
    const number = (lo: number, hi: number) => {
      const n = Number(value())
      if (!Number.isFinite(n) || n < lo || n > hi)
        throw new Error(`${flag} must be a number from ${lo} to ${hi}`)
      return n
    }
    if (flag === '--rate') out.rate = number(0.1, 500)
    else if (flag === '--port') out.port = Math.trunc(number(0, 65535))
    else if (flag === '--data-dir') out.dataDir = value()
    else if (flag === '--status-every') out.statusEvery = number(0.2, 3600)
    else if (flag === '--reset' && inline === undefined) out.reset = true
    else throw new Error(`unknown option "${args[i]}" for demo\nusage: inkstream ${DEMO_USAGE}`)
  }
  return out
}

/** The content settings of the demo: the defaults, plus the recommendations server's host allowed. */
function writeContentFile(dataDir: string, recsUrl: string): string {
  const doc = (parseYaml(readFileSync(DEFAULT_CONTENT_FILE, 'utf8')) ?? {}) as {
    connectedContent?: { allowHosts?: string[] }
  }
  doc.connectedContent = { ...doc.connectedContent, allowHosts: [new URL(recsUrl).host] }
  const path = join(dataDir, 'demo-content.yaml')
  writeFileSync(path, `# Written by inkstream demo at each start.\n${stringifyYaml(doc)}`)
  return path
}

export async function demo(args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const opts = parseDemoArgs(args)
  const dataDir = resolve(opts.dataDir)
  if (opts.reset) rmSync(dataDir, { recursive: true, force: true })
  mkdirSync(dataDir, { recursive: true })

  const portFile = join(dataDir, 'demo-recs-port')
  const lastPort = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : 0
  const recs = await startRecsServer({ port: Number.isInteger(lastPort) ? lastPort : 0 })
  writeFileSync(portFile, new URL(recs.url).port)
  const config = loadConfig(env, {
    dataDir,
    contentFile: writeContentFile(dataDir, recs.url),
    ...(env.INKSTREAM_WORKSPACE === undefined ? { workspaceId: 'demo' } : {}),
    ...(env.INKSTREAM_LOG_LEVEL === undefined ? { logLevel: 'warn' as const } : {}),
    ...(opts.port === undefined ? {} : { port: opts.port }),
  })
  const app = await composeEmbedded(config, { env }).catch(async (err: unknown) => {
    await recs.close()
    throw err
  })
  const url = await app.listen().catch(async (err: NodeJS.ErrnoException) => {
    await app.close()
    await recs.close()
    if (err.code !== 'EADDRINUSE') throw err
    throw invalidConfig([
      `INKSTREAM_PORT: port ${config.port} is in use (is \`npm start\` running?); choose another with --port <n> (0: any free one)`,
    ])
  })
  const out = (line: string) => process.stdout.write(`${line}\n`)
  out(`Inkstream demo: setting up the demo shop at ${url} …`)
  const client = new DemoClient(url, app.workspace)
  const { campaignStarted } = await installDemo(client, recs.url).catch(async (err: unknown) => {
    await app.close()
    await recs.close()
    throw err
  })

  const errors = new Map<string, number>()
  const shoppers = new Shoppers({
    client,
    rate: opts.rate,
    onError: (err) => errors.set(err.message.slice(0, 200), (errors.get(err.message.slice(0, 200)) ?? 0) + 1),
  })
  const byEmail = (email: string) => email.replace(/@.*/, '')
  const reader = new MailReader({
    outbox: join(dataDir, 'outbox'),
    // A third of the clickers buy within the conversion window: the conversion shows on the campaign.
    onClick: (email) => {
      if (Math.random() < 0.35) shoppers.order(byEmail(email))
    },
  })
  shoppers.start()
  reader.start()

  out(`Inkstream demo is running at ${url}`)
  out(`  dashboard: ${url}/`)
  out(`  admin key: ${app.workspace.adminKey}   (sign in with it)`)
  out(`  write key: ${app.workspace.writeKey}`)
  out(`  workspace: ${app.workspace.id}; data in ${dataDir} (--reset to start afresh)`)
  out(`  shoppers:  ${opts.rate} events/s through the collector; e.g. ${shopper(1).userId}`)
  out(`  mail:      ${app.services.delivery?.transportDescription ?? 'none'}`)
  if (config.smtpUrl !== undefined)
    out(
      '             (the simulated recipients read the .eml outbox only: with SMTP, no demo opens or clicks)',
    )
  out(`  recommendations (connected content, sometimes slow): ${recs.url}/recs`)
  out(
    campaignStarted
      ? '  campaign "weekly-picks" started to the "buyers" segment'
      : '  campaign "weekly-picks" ran in an earlier start',
  )
  out('Ctrl-C stops the demo.')

  const status = () => {
    const s = shoppers.counts
    const r = reader.counts
    return (
      `demo: ${s.acknowledged} events acknowledged, ${s.refused} refused; ` +
      `${r.messages} emails sent, ${r.opened} opened, ${r.clicked} clicked; ${s.orders} orders`
    )
  }
  const ticker = setInterval(() => {
    out(status())
    for (const [message, n] of errors) process.stderr.write(`demo: ${n}× ${message}\n`)
    errors.clear()
  }, opts.statusEvery * 1000)

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    out(`${signal}: stopping the demo`)
    clearInterval(ticker)
    await shoppers.stop()
    await reader.stop()
    await app.close()
    await recs.close()
    out(status())
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}
