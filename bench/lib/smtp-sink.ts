/**
 * An SMTP sink for the delivery benchmarks, meant to run in its own child process (startSmtpSink):
 * smtp-server on 127.0.0.1, no TLS, no auth, accepts every recipient, reads and discards every
 * message and counts messages and bytes. The parent asks for the counts over the IPC channel.
 *
 * Run directly (`node --import tsx bench/lib/smtp-sink.ts`, with an IPC channel) it starts the server.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SMTPServer } from 'smtp-server'
import { ROOT } from './children.ts'

export interface SinkCounts {
  messages: number
  bytes: number
  connections: number
}

export interface SmtpSink {
  port: number
  pid: number
  counts(): Promise<SinkCounts>
  stop(): Promise<void>
}

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** Forks this file as a child (`node --import tsx`) and resolves once its server listens. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  live.add(child)
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the SMTP sink did not start within 30 s')), 30_000)
    child.once('message', (m: { port?: number }) => {
      clearTimeout(timer)
      if (typeof m.port === 'number') resolve(m.port)
      else reject(new Error(`unexpected message from the SMTP sink: ${JSON.stringify(m)}`))
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the SMTP sink exited early (code ${code})`))
    })
  })
  return {
    port,
    pid: child.pid!,
    counts: () =>
      new Promise((resolve) => {
        child.once('message', (m: SinkCounts) => resolve(m))
        child.send('counts')
      }),
    stop: async () => {
      live.delete(child)
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}

function serve(): void {
  const counts: SinkCounts = { messages: 0, bytes: 0, connections: 0 }
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    closeTimeout: 200,
    maxClients: 1000,
    onConnect(_session, callback) {
      counts.connections++
      callback()
    },
    onData(stream, _session, callback) {
      stream.on('data', (chunk: Buffer) => {
        counts.bytes += chunk.length
      })
      stream.on('end', () => {
        counts.messages++
        callback(null, 'OK: discarded')
      })
    },
  })
  server.on('error', (err) => process.stderr.write(`smtp sink: ${err.message}\n`))
  server.listen(0, '127.0.0.1', () => {
    const address = server.server.address()
    if (address === null || typeof address === 'string') throw new Error('the SMTP sink has no TCP port')
    process.send?.({ port: address.port })
  })
  process.on('message', (m) => {
    if (m === 'counts') process.send?.({ ...counts })
  })
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
  process.on('disconnect', () => process.exit(0))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) serve()
