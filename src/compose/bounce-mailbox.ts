/**
 * The bounce mailbox in a process that sends (embedded mode, the scale-out sender role): when
 * INKSTREAM_BOUNCE_IMAP is set, a BounceMailbox (src/delivery/bounce-mailbox.ts) reads it once
 * the server listens and hands what it reads to the feedback sink; closed with the process.
 */
import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import { invalidConfig } from '../core/errors.ts'
import type { Clock } from '../core/types.ts'
import { parseBounceImapUrl } from '../delivery/bounce-imap-url.ts'
import type { BounceMailbox } from '../delivery/bounce-mailbox.ts'
import type { FeedbackSink } from '../delivery/feedback.ts'

export interface BounceMailboxComposeDeps {
  sink: FeedbackSink | undefined
  workspaceId: string
  clock: Clock
  logger: Logger
}

/**
 * The reader of INKSTREAM_BOUNCE_IMAP (not started), or undefined when it is not set. The IMAP client
 * (imapflow and its MIME libraries, ~185 ms of imports) is loaded only here, when the setting is
 * there: no part of a start-up without it (issue 14, start-up ≤ 1 s).
 */
export async function composeBounceMailbox(
  config: Config,
  deps: BounceMailboxComposeDeps,
): Promise<BounceMailbox | undefined> {
  if (config.bounceImap === undefined) return undefined
  const parsed = parseBounceImapUrl(config.bounceImap)
  if (!parsed.ok) throw invalidConfig(parsed.problems.map((p) => `INKSTREAM_BOUNCE_IMAP: ${p}`))
  if (deps.sink === undefined)
    throw invalidConfig(['INKSTREAM_BOUNCE_IMAP: this process has no feedback sink to record bounces with'])
  const { BounceMailbox } = await import('../delivery/bounce-mailbox.ts')
  return new BounceMailbox({
    settings: parsed.settings,
    sink: deps.sink,
    workspaceId: deps.workspaceId,
    bounceAddress: config.bounceAddress,
    clock: deps.clock,
    logger: deps.logger.child({ 'process.thread.name': 'bounce-mailbox' }),
  })
}
