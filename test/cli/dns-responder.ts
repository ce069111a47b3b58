/**
 * A tiny authoritative DNS responder on 127.0.0.1 (UDP) for tests: answers TXT queries from a map,
 * NXDOMAIN for names it does not hold, an empty answer for other types. Enough of RFC 1035 for
 * node:dns (c-ares): one question per query, answers with a compression pointer to it, TXT data
 * split into ≤ 255-byte strings as a real zone holds a 2048-bit DKIM key.
 */
import { createSocket } from 'node:dgram'

export interface DnsResponder {
  /** `127.0.0.1:port`, for --dns-server. */
  readonly address: string
  /** Names (lower-case, no trailing dot) → their TXT records. Change it between queries at will. */
  readonly txt: Map<string, string[]>
  /** Queries received so far, as `name TYPE`. */
  readonly queries: string[]
  close(): Promise<void>
}

const TXT = 16

export async function startDnsResponder(records: Record<string, string[]> = {}): Promise<DnsResponder> {
  const txt = new Map(Object.entries(records).map(([k, v]) => [k.toLowerCase(), v]))
  const queries: string[] = []
  const socket = createSocket('udp4')
  socket.on('message', (query, peer) => {
    const answer = respond(query, txt, queries)
    if (answer !== undefined) socket.send(answer, peer.port, peer.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  return {
    address: `127.0.0.1:${socket.address().port}`,
    txt,
    queries,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  }
}

function respond(query: Buffer, txt: Map<string, string[]>, log: string[]): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) < 1) return undefined
  const labels: string[] = []
  let pos = 12
  while (pos < query.length && query[pos] !== 0) {
    const len = query[pos] ?? 0
    labels.push(query.subarray(pos + 1, pos + 1 + len).toString('latin1'))
    pos += 1 + len
  }
  const questionEnd = pos + 5
  if (questionEnd > query.length) return undefined
  const type = query.readUInt16BE(pos + 1)
  const name = labels.join('.').toLowerCase()
  log.push(`${name} ${type === TXT ? 'TXT' : type}`)
  const records = txt.get(name)
  const answers = records !== undefined && type === TXT ? records : []
  const header = Buffer.alloc(12)
  header.writeUInt16BE(query.readUInt16BE(0), 0)
  // QR, AA, the client's RD, RA; RCODE 3 (NXDOMAIN) for a name the zone does not hold.
  header.writeUInt16BE(0x8480 | (query.readUInt16BE(2) & 0x0100) | (records === undefined ? 3 : 0), 2)
  header.writeUInt16BE(1, 4)
  header.writeUInt16BE(answers.length, 6)
  const parts = [header, query.subarray(12, questionEnd)]
  for (const record of answers) {
    const bytes = Buffer.from(record, 'utf8')
    const strings: Buffer[] = []
    for (let i = 0; i < bytes.length || i === 0; i += 255) {
      const chunk = bytes.subarray(i, i + 255)
      strings.push(Buffer.from([chunk.length]), chunk)
    }
    const rdata = Buffer.concat(strings)
    const rr = Buffer.alloc(12)
    rr.writeUInt16BE(0xc00c, 0) // a pointer to the question's name
    rr.writeUInt16BE(TXT, 2)
    rr.writeUInt16BE(1, 4) // IN
    rr.writeUInt32BE(60, 6)
    rr.writeUInt16BE(rdata.length, 10)
    parts.push(rr, rdata)
  }
  return Buffer.concat(parts)
}
