/**
 * `{% abort_message() %}` / `{% abort_message('no language on the profile') %}` — Braze's way for a
 * template to decide a recipient gets no message. The render stops and answers "skipped" with the
 * reason (campaigns and triggers record the recipient as `skipped`, not `failed`). As in Braze the
 * reason is a plain string literal, not Liquid.
 */
import type { Context, Emitter, Liquid, TagToken, TopLevelToken } from 'liquidjs'
import { Tag } from 'liquidjs'
import { findInChain } from '../error-chain.ts'

/** The reason recorded when the template gives none. */
export const DEFAULT_ABORT_REASON = 'abort_message called'
const MAX_REASON = 500

/** Thrown through liquidjs to stop the render; renderEmail turns it into a skip. */
export class MessageAborted extends Error {
  constructor(readonly reason: string) {
    super(`the template aborted the message: ${reason}`)
    this.name = 'MessageAborted'
  }
}

/** Finds a MessageAborted inside liquidjs's error wrapping (see error-chain.ts). */
export const abortedBy = (err: unknown): MessageAborted | undefined =>
  findInChain(err, (e): e is MessageAborted => e instanceof MessageAborted)

/** `()`, `('reason')`, `("reason")` or nothing. Throws a message naming what is wrong. */
export function parseAbortArgs(args: string): string {
  const a = args.trim()
  if (a === '' || /^\(\s*\)$/.test(a)) return DEFAULT_ABORT_REASON
  const m = /^\(\s*(?:'([^']*)'|"([^"]*)")\s*\)$/.exec(a)
  if (!m)
    throw new Error(`abort_message takes one quoted reason, e.g. abort_message('no language'); got "${a}"`)
  const reason = (m[1] ?? m[2] ?? '').trim().slice(0, MAX_REASON)
  return reason === '' ? DEFAULT_ABORT_REASON : reason
}

export class AbortMessageTag extends Tag {
  readonly reason: string

  constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid) {
    super(token, remain, liquid)
    this.reason = parseAbortArgs(token.args)
  }

  // biome-ignore lint/correctness/useYield: a tag's render is a generator; this one only throws
  *render(_ctx: Context, _emitter: Emitter): Generator<unknown, void, unknown> {
    throw new MessageAborted(this.reason)
  }
}
