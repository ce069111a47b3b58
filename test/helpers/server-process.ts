/**
 * The real `inkstream start` command in a child process, for tests that need to kill the server
 * (SIGKILL cannot be simulated in process). Spawns node itself on the compiled CLI (dist/, brought
 * up to date first: what `npm start` runs), not npm or tsx, so the pid is the server's and a signal
 * reaches it directly.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { cliArgs } from '../../scripts/dist.ts'

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
const READY = /Inkstream (?:\([^)]*\) )?is running at (http:\/\/\S+)/

export interface ServerProcess {
  child: ChildProcess
  pid: number
  url: string
  /** Everything the server wrote to stdout and stderr, for failure messages. */
  output(): string
  /** Resolves when the process has exited, with its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** A key in the format the config accepts; fixed per test so a restart keeps the same keys. */
export const testKey = (prefix: string) => `${prefix}_${randomBytes(18).toString('base64url')}`

/**
 * Starts `dist/cli/main.js start` on `dataDir` with an ephemeral port and resolves once the server
 * printed its URL. INKSTREAM_* variables of this process are not passed on: the config rejects
 * unknown ones, and the test decides every setting.
 */
export async function startServerProcess(opts: {
  dataDir: string
  writeKey: string
  adminKey: string
  timeoutMs?: number
  /** More settings (INKSTREAM_* variables), e.g. the scale-out backends. */
  env?: Record<string, string>
  /** Arguments after `start`, e.g. ['--role', 'processor']. */
  args?: string[]
  /** Node options before the entry point, e.g. ['--import', …]. */
  nodeArgs?: string[]
}): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('INKSTREAM_') && !name.startsWith('NODE_TEST')) env[name] = value
  }
  Object.assign(env, {
    INKSTREAM_DATA_DIR: opts.dataDir,
    INKSTREAM_PORT: '0',
    INKSTREAM_LOG_LEVEL: 'warn',
    INKSTREAM_WRITE_KEY: opts.writeKey,
    INKSTREAM_ADMIN_KEY: opts.adminKey,
    ...opts.env,
  })
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), ...cliArgs('start', ...(opts.args ?? []))],
    {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    output += s
  })
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    output += s
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the server did not start within ${opts.timeoutMs ?? 30_000} ms; output:\n${output}`))
    }, opts.timeoutMs ?? 30_000)
    const onData = () => {
      const m = READY.exec(output)
      if (!m) return
      clearTimeout(timer)
      child.stdout.off('data', onData)
      resolve(m[1]!)
    }
    child.stdout.on('data', onData)
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(
        new Error(
          `the server exited before it was ready (code ${code}, signal ${signal}); output:\n${output}`,
        ),
      )
    })
  })
  if (child.pid === undefined) throw new Error('the server process has no pid')
  return { child, pid: child.pid, url, output: () => output, exited }
}

/** Polls GET /healthz until the processor has committed everything in the log. */
export async function waitForZeroLag(url: string, timeoutMs = 30_000, output?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/healthz`)
    last = await res.json()
    if (
      res.ok &&
      typeof last === 'object' &&
      last !== null &&
      'consumerLag' in last &&
      last.consumerLag === 0
    )
      return
    await new Promise((r) => setTimeout(r, 25))
  }
  const detail = output ? `; server output:\n${output()}` : ''
  throw new Error(
    `the processor did not catch up within ${timeoutMs} ms; last /healthz: ${JSON.stringify(last)}${detail}`,
  )
}

/** Reads one sample of a Prometheus counter from GET /metrics (0 when the series does not exist yet). */
export async function readMetric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  }
  return 0
}
