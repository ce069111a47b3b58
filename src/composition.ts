/**
 * Helpers of the composition (src/compose/services.ts) that do not depend on the backends: the
 * mail transport from config, a segment's sendable members and existence, a recipient's address
 * from the profile reader, and the base of links (bound port).
 */
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { SegmentMembers } from './campaigns/audience.ts'
import { type Config, parseSmtpUrl } from './config.ts'
import { InkError } from './core/errors.ts'
import { loadDkimKeys } from './delivery/dkim-keys.ts'
import { DkimSigner } from './delivery/dkim-sign.ts'
import { FileTransport } from './delivery/file-transport.ts'
import { isDomainName, parseMailbox } from './delivery/mailbox.ts'
import { SmtpTransport } from './delivery/smtp-transport.ts'
import type { Transport } from './delivery/transport.ts'
import { verpAddress } from './delivery/verp.ts'
import type { ProfileReader } from './profiles/profile-reader.ts'
import type { SegmentStore } from './segments/segment-store.ts'

/** Folder of the .eml files campaigns write when no INKSTREAM_SMTP_URL is set. */
export const OUTBOX_DIR = 'outbox'

/**
 * SMTP (INKSTREAM_SMTP_URL) or .eml files in <dataDir>/outbox, with a line saying which; both sign
 * with the INKSTREAM_DKIM keys, read here (at start) from their files or from `env`.
 */
export function createTransport(
  config: Config,
  messageIdDomain: string,
  env: NodeJS.ProcessEnv = {},
): { transport: Transport; description: string } {
  const dkim = createDkimSigner(config, env)
  const signing =
    dkim === undefined
      ? ''
      : `; DKIM ${dkim.selectors.map((s) => `${s.selector}._domainkey.${s.domain} (${s.algorithm})`).join(', ')}`
  if (config.smtpUrl !== undefined) {
    const smtp = parseSmtpUrl(config.smtpUrl)
    if (!smtp.ok) throw new InkError('INK_ERR_INVALID_CONFIG', smtp.problems.join('; '))
    return {
      transport: new SmtpTransport({
        ...smtp.options,
        messageIdDomain,
        dkim,
        bounceAddress: config.bounceAddress,
      }),
      description: `smtp ${smtp.options.secure ? 'smtps' : 'smtp'}://${smtp.options.host}:${smtp.options.port}${signing}${
        config.bounceAddress === undefined
          ? ''
          : `; envelope sender ${verpAddress(config.bounceAddress, '<id>')}`
      }${smtp.options.postmarkMetadata ? '; Postmark metadata ink_email_id' : ''}`,
    }
  }
  const dir = join(config.dataDir, OUTBOX_DIR)
  return {
    transport: new FileTransport({ dir, messageIdDomain, dkim }),
    description: `.eml files in ${dir} (set INKSTREAM_SMTP_URL to send)${signing}`,
  }
}

/** The INKSTREAM_DKIM signer, or undefined; throws INK_ERR_INVALID_CONFIG for a bad key. */
export function createDkimSigner(config: Config, env: NodeJS.ProcessEnv): DkimSigner | undefined {
  return config.dkim === undefined ? undefined : new DkimSigner(loadDkimKeys(config.dkim, env))
}

/** A segment's member rows (with their address), page by page, for campaign audiences. */
export function segmentMembersOf(segments: Pick<SegmentStore, 'members' | 'countMembers'>): SegmentMembers {
  return {
    page: (workspaceId, segment, page) => segments.members(workspaceId, segment, page),
    // One index range scan at the start of a run: the progress total of a segment audience.
    count: (workspaceId, segment) => segments.countMembers(workspaceId, segment),
  }
}

/** A recipient's address (the `email` trait), read through the profile reader. */
export function emailLookups(reader: Pick<ProfileReader, 'read'>): {
  /** For sends: a profile that cannot be read now must not be skipped for good, so this throws. */
  requireEmail(workspaceId: string, userId: string): Promise<string | undefined>
  /** For the unsubscribe route: best effort, undefined when unreadable. */
  lookupEmail(workspaceId: string, userId: string): Promise<string | undefined>
  /** The `timezone` trait, for quiet hours and local-time sends; throws when unreadable, as requireEmail. */
  lookupTimezone(workspaceId: string, userId: string): Promise<unknown>
} {
  /** The profile's traits for a send: one that cannot be read now throws (it is retried, not skipped). */
  const traitsForSend = async (workspaceId: string, userId: string) => {
    const read = await reader.read(workspaceId, userId, { timeoutMs: 5000 })
    if (read.outcome === 'timeout' || read.outcome === 'error')
      throw new InkError('INK_ERR_INTERNAL', `the profile of "${userId}" could not be read (${read.outcome})`)
    return read.traits
  }
  return {
    async requireEmail(workspaceId, userId) {
      const email = (await traitsForSend(workspaceId, userId))?.email
      return typeof email === 'string' ? email : undefined
    },
    async lookupEmail(workspaceId, userId) {
      const read = await reader.read(workspaceId, userId, { timeoutMs: 1000 })
      const email = read.traits?.email
      return typeof email === 'string' ? email : undefined
    },
    async lookupTimezone(workspaceId, userId) {
      return (await traitsForSend(workspaceId, userId))?.timezone
    },
  }
}

/** Right-hand side of Message-IDs: the sender's domain, else the public URL's host, else a fixed one. */
export function messageIdDomainFor(from: string | undefined, publicUrl: string): string {
  const parsed = from === undefined ? undefined : parseMailbox(from)
  const candidates = [
    parsed?.ok ? parsed.mailbox.address.split('@').pop() : undefined,
    new URL(publicUrl).hostname,
  ]
  return candidates.find((d) => d !== undefined && isDomainName(d)) ?? 'inkstream.localhost'
}

/** True when the segment exists (an audience may name one before its first member). */
export function hasSegmentOf(
  segments: Pick<SegmentStore, 'get'>,
): (workspaceId: string, segment: string) => Promise<boolean> {
  return async (workspaceId, segment) => (await segments.get(workspaceId, segment)) !== undefined
}

/** Where links point, and the senders that must not start before it is known. */
export interface LinkBase {
  /** INKSTREAM_PUBLIC_URL, else the URL the server is bound to (`http://host:port` before listen()). */
  publicUrl(): string
  /** Runs `start` in listen(), once the port is bound (the trigger dispatcher, campaign resume). */
  afterListen(start: () => Promise<void> | void): void
  /** Listens, records the bound URL, then runs the afterListen starts in order; resolves with the URL. */
  listen(server: FastifyInstance): Promise<string>
}

/**
 * Without INKSTREAM_PUBLIC_URL, links name the port actually bound (INKSTREAM_PORT=0 picks one),
 * known only once the server listens: a message sent earlier would carry `http://host:0/…` links
 * for good. So what sends on its own at start (overdue trigger jobs, interrupted campaigns) is
 * started by listen(), after the port is bound.
 */
export function linkBase(config: Pick<Config, 'publicUrl' | 'host' | 'port'>): LinkBase {
  let bound = `http://${config.host}:${config.port}`
  const starts: (() => Promise<void> | void)[] = []
  return {
    publicUrl: () => config.publicUrl ?? bound,
    afterListen: (start) => {
      starts.push(start)
    },
    async listen(server) {
      const url = await server.listen({ host: config.host, port: config.port })
      bound = boundUrlOf(server, config.host) ?? url
      for (const start of starts.splice(0)) await start()
      return url
    },
  }
}

/** `http://host:port` with the port the server is bound to (the one chosen when asked for port 0). */
export function boundUrlOf(server: FastifyInstance, host: string): string | undefined {
  const address = server.server.address()
  if (address === null || typeof address === 'string') return undefined
  const name = host.includes(':') ? `[${host}]` : host
  return `http://${name}:${address.port}`
}
