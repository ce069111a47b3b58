/**
 * A build worker (build-pool.ts): runs buildMessage for the main thread. Messages in:
 * { id, job, signing, now }; out: { id, html?, headers?, prepared? } (what building changed) or
 * { id, error }, the MIME bytes transferred. With DKIM keys in its workerData it signs the bytes it
 * built (dkim-sign.ts), so the signature covers exactly what is sent.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import type { DkimKeyData } from './dkim-keys.ts'
import { DkimSigner } from './dkim-sign.ts'
import { type BuildJob, buildMessage, signingCodec } from './message-build.ts'
import type { SigningKey, TokenCodec } from './tokens.ts'

export interface BuildRequest {
  id: number
  job: BuildJob
  /** Present when the job tracks links. */
  signing?: SigningKey
  now: number
}

if (parentPort === null) throw new Error('build-worker.ts runs in a worker thread')
const port: MessagePort = parentPort

/** The transport's DKIM keys (BuildPool's workerData): the bytes are signed where they are built. */
const dkimKeys = (workerData as { dkim?: DkimKeyData[] } | null)?.dkim
const dkim = dkimKeys === undefined || dkimKeys.length === 0 ? undefined : new DkimSigner(dkimKeys)

let now = 0
const codecs = new Map<string, TokenCodec>()
const codecFor = (signing: SigningKey): TokenCodec => {
  const id = `${signing.kid}:${Buffer.from(signing.key).toString('base64')}`
  let codec = codecs.get(id)
  if (codec === undefined) {
    // Keys rotate rarely: the few codecs a process lives through are kept.
    codec = signingCodec(signing, () => now)
    codecs.set(id, codec)
  }
  return codec
}

port.on('message', (req: BuildRequest) => {
  build(req).catch((err: unknown) =>
    port.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) }),
  )
})

async function build(req: BuildRequest): Promise<void> {
  now = req.now
  const codec = req.signing === undefined ? undefined : codecFor(req.signing)
  const message = buildMessage(req.job, codec)
  if (dkim !== undefined && message.prepared !== undefined) {
    message.prepared = {
      ...message.prepared,
      raw: await dkim.sign(message.prepared.raw, new Date(req.now)),
      dkimSigned: true,
    }
  }
  const raw = message.prepared?.raw
  // A buffer that owns its memory is handed over, not copied.
  const transfer =
    raw !== undefined && raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength
      ? [raw.buffer as ArrayBuffer]
      : []
  // Only what building changed goes back (the caller has the rest): the tracked HTML and headers
  // when it tracked, and the bytes.
  const changed = req.job.track === undefined ? {} : { html: message.html, headers: message.headers }
  port.postMessage({ id: req.id, ...changed, prepared: message.prepared }, transfer)
}
port.postMessage({ ready: true })
