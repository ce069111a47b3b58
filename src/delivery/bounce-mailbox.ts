/**
 * The bounce mailbox reader (issue 15): asynchronous bounces (DSN) and complaints (ARF) that reach
 * an IMAP mailbox become Feedback values (report-parse.ts) handed to a FeedbackSink.
 *
 * One connection (imapflow) reads the unseen messages of the mailbox, one at a time: fetch (PEEK:
 * nothing changes yet) → parse → sink.record → only then flag \Seen and move to the processed
 * folder (or delete). A crash or a sink failure before that leaves the message unseen: it is read
 * again, and its feedback has the same id (the report's Message-ID and the recipient), so the
 * processor's dedupe makes it one event. Messages that are no report (auto-replies, junk) are
 * flagged \Seen and left where they are: never misread, never deleted, not read again.
 *
 * Between passes the connection IDLEs (a new message wakes it) and polls every `pollMs` anyway.
 * A dropped or unreachable server is logged and retried with backoff; the reader never throws.
 */
import { ImapFlow } from 'imapflow'
import type { Clock } from '../core/types.ts'
import type { BounceImapSettings } from './bounce-imap-url.ts'
import { describeBounceImap } from './bounce-imap-url.ts'
import type { FeedbackSink } from './feedback.ts'
import { readReport } from './report-parse.ts'

export interface BounceMailboxDeps {
  settings: BounceImapSettings
  sink: FeedbackSink
  /**
   * Where a report is recorded when it names none of our messages (matched by address here); one
   * about a message goes to the workspace that sent it (the mailbox itself names no workspace).
   */
  workspaceId: string
  /** INKSTREAM_BOUNCE_ADDRESS: its VERP form in a report names the message. */
  bounceAddress?: string | undefined
  clock: Clock
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }
  /** Reconnect delays: the first, doubled up to the last. Default 1 s … 60 s. */
  retryMs?: { min: number; max: number }
  /** ms to connect and to get the greeting; default 10 000. */
  connectTimeoutMs?: number
  /** Told after every pass (tests wait on it; metrics). */
  onPass?: (report: PassReport) => void
}

export interface PassReport {
  /** Messages looked at. */
  read: number
  /** Reports whose feedback the sink took (moved or deleted afterwards). */
  reports: number
  /** Feedback values handed to the sink, and what it answered. */
  recorded: number
  unmatched: number
  /** Messages that are no report (left in place, \Seen). */
  ignored: number
  /** The sink failed: the pass stopped, the message stays unseen for the next one. */
  sinkFailed: boolean
}

/** The bytes of a message read; the report-parse.ts reader looks at no more than 4 MiB of them. */
const MAX_FETCH_BYTES = 4 * 1024 * 1024

/** Reads the mailbox until closed; see the file's header. */
export class BounceMailbox {
  readonly #deps: BounceMailboxDeps
  #client: ImapFlow | undefined
  #running: Promise<void> | undefined
  #stopped = false
  #wake: (() => void) | undefined
  #wakeRequested = false

  constructor(deps: BounceMailboxDeps) {
    this.#deps = deps
  }

  /** Starts the loop (idempotent). */
  start(): void {
    this.#running ??= this.#loop()
  }

  /** Reads now instead of at the next poll. */
  wake(): void {
    this.#wakeRequested = true
    this.#wake?.()
  }

  async close(): Promise<void> {
    this.#stopped = true
    this.#wake?.()
    const client = this.#client
    if (client?.usable) await withTimeout(client.logout(), 5_000).catch(() => undefined)
    client?.close()
    await this.#running
  }

  async #loop(): Promise<void> {
    const { settings, logger } = this.#deps
    const retry = this.#deps.retryMs ?? { min: 1_000, max: 60_000 }
    const where = describeBounceImap(settings)
    let delay = retry.min
    while (!this.#stopped) {
      const client = connectionFor(settings, this.#deps.connectTimeoutMs ?? 10_000)
      this.#client = client
      // An 'error' event without a listener would take the process down.
      client.on('error', () => undefined)
      client.on('exists', () => this.wake())
      client.on('close', () => this.#wake?.())
      try {
        await client.connect()
        if (settings.processed !== null) await ensureFolder(client, settings.processed)
        logger.info({ mailbox: where }, 'bounce mailbox connected')
        while (!this.#stopped && client.usable) {
          const report = await readPass(client, this.#deps, () => this.#stopped)
          delay = retry.min
          this.#deps.onPass?.(report)
          if (report.read > 0 || report.sinkFailed)
            logger.info({ mailbox: where, ...report }, 'bounce mailbox read')
          await this.#idle(settings.pollMs, client)
        }
        if (!this.#stopped)
          logger.warn({ mailbox: where, retryInMs: delay }, 'bounce mailbox connection closed; reconnecting')
      } catch (err) {
        if (this.#stopped) break
        logger.warn(
          { mailbox: where, reason: errorText(err), retryInMs: delay },
          'bounce mailbox unreachable or dropped; retrying',
        )
      } finally {
        client.close()
      }
      if (this.#stopped) break
      await this.#sleep(delay)
      delay = Math.min(retry.max, delay * 2)
    }
  }

  /** Waits for the poll interval, a new message (IDLE's EXISTS), a dropped connection, wake() or close(). */
  #idle(ms: number, client: ImapFlow): Promise<void> {
    if (this.#wakeRequested || !client.usable) {
      this.#wakeRequested = false
      return Promise.resolve()
    }
    return this.#sleep(ms)
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve()
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        // Only this sleep's own waker is cleared: a wake() during the next pass must not be lost.
        if (this.#wake === wake) this.#wake = undefined
        this.#wakeRequested = false
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#wake = wake
    })
  }
}

/**
 * One pass over the unseen messages of the mailbox on an open connection. Throws what the
 * connection throws (the caller reconnects); a sink failure ends the pass with `sinkFailed`.
 */
export async function readPass(
  client: ImapFlow,
  deps: Pick<BounceMailboxDeps, 'settings' | 'sink' | 'workspaceId' | 'bounceAddress' | 'clock' | 'logger'>,
  stopped: () => boolean = () => false,
): Promise<PassReport> {
  const { settings, sink, logger } = deps
  const report: PassReport = { read: 0, reports: 0, recorded: 0, unmatched: 0, ignored: 0, sinkFailed: false }
  const lock = await client.getMailboxLock(settings.mailbox)
  try {
    // The mailbox stays selected between passes; a server need not look for new mail before a
    // SEARCH (dovecot does not), NOOP makes it.
    await client.noop()
    const uids = (await client.search({ seen: false }, { uid: true })) || []
    for (const uid of uids) {
      if (stopped()) break
      const range = String(uid)
      const msg = await client.fetchOne(
        range,
        // A report is small; a huge message (a bounce returning a big original, junk) is read in part.
        { source: { maxLength: MAX_FETCH_BYTES }, internalDate: true },
        { uid: true },
      )
      if (msg === false || msg.source === undefined) continue
      report.read++
      const received = msg.internalDate === undefined ? Number.NaN : new Date(msg.internalDate).getTime()
      const reading = readReport(msg.source, {
        bounceAddress: deps.bounceAddress,
        receivedAt: Number.isFinite(received) ? received : deps.clock.now(),
      })
      if (reading.report === null) {
        report.ignored++
        logger.info({ uid, reason: reading.reason }, 'bounce mailbox: not a report, left in place')
        await client.messageFlagsAdd(range, ['\\Seen'], { uid: true })
        continue
      }
      if (reading.feedback.length > 0) {
        try {
          // A mailbox names no workspace: a report about one of our messages goes to the workspace
          // that sent it; deps.workspaceId is where one without a known message is matched by address.
          const answers = await sink.record(deps.workspaceId, reading.feedback, { anyWorkspace: true })
          for (const a of answers) report[a === 'recorded' ? 'recorded' : 'unmatched']++
        } catch (err) {
          report.sinkFailed = true
          logger.warn(
            { uid, 'error.message': errorText(err) },
            'bounce mailbox: the feedback sink failed; read again later',
          )
          break
        }
      } else logger.info({ uid, report: reading.report }, 'bounce mailbox: a report with nothing to record')
      report.reports++
      // Only now that the sink has it: \Seen first, so the processed copy is seen too.
      await client.messageFlagsAdd(range, ['\\Seen'], { uid: true })
      if (settings.processed === null) await client.messageDelete(range, { uid: true })
      else await client.messageMove(range, settings.processed, { uid: true })
    }
  } finally {
    lock.release()
  }
  return report
}

function connectionFor(s: BounceImapSettings, timeoutMs: number): ImapFlow {
  return new ImapFlow({
    host: s.host,
    port: s.port,
    secure: s.secure,
    ...(s.startTls === undefined ? {} : { doSTARTTLS: s.startTls }),
    auth: { user: s.user, pass: s.pass },
    // Its own logger would write every command (and, at debug, the login) to stdout.
    logger: false,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    // IDLE starts a second after a pass (a new message then wakes the reader at once) and is
    // restarted now and then, so a silently dead connection is noticed.
    autoIdleDelay: 1_000,
    maxIdleTime: 5 * 60_000,
  })
}

/** Creates the processed folder unless it exists. */
async function ensureFolder(client: ImapFlow, path: string): Promise<void> {
  const folders = await client.list()
  if (!folders.some((f) => f.path === path)) await client.mailboxCreate(path)
}

const errorText = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err)
  const response = (err as { responseText?: unknown }).responseText
  return typeof response === 'string' ? `${err.message}: ${response}` : err.message
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out')), ms)
    p.then(
      (v) => {
        clearTimeout(t)
        resolve(v)
      },
      (e: unknown) => {
        clearTimeout(t)
        reject(e)
      },
    )
  })
}
