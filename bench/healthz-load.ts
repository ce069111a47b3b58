/**
 * The load of bench/healthz.ts, in its own process so the prober's event loop stays quiet: a slow
 * connected-content source (answers after BENCH_SOURCE_DELAY_MS, default 300 ms) and `concurrency`
 * previews kept in flight against `url` (each completion starts the next) for `seconds`. Every
 * preview has its own source URL (no connected-content cache hit), so each waits for the source.
 * Prints `ready <sourceHost>` once the source listens; then, for each stdin line
 * `go <url> <adminKey> <concurrency> <seconds>`, runs the previews and prints one JSON line
 * {previews, ok, failed}.
 */
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'

const delayMs = Number(process.env.BENCH_SOURCE_DELAY_MS ?? 300)

const source = createServer((req, res) => {
  req.resume()
  setTimeout(() => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ title: 'Picked for you', items: ['a', 'b', 'c'] }))
  }, delayMs)
})
await new Promise<void>((r) => source.listen(0, '127.0.0.1', r))
const sourceHost = `127.0.0.1:${(source.address() as AddressInfo).port}`
process.stdout.write(`ready ${sourceHost}\n`)

function preview(url: URL, adminKey: string, agent: Agent, i: number): Promise<boolean> {
  const body = JSON.stringify({ userId: `u${i}`, profile: { first_name: 'Ada', n: i } })
  return new Promise((resolve) => {
    const req = request(
      {
        hostname: url.hostname,
        port: url.port,
        agent,
        method: 'POST',
        path: '/v1/templates/slow/preview',
        headers: {
          authorization: `Bearer ${adminKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode === 200))
      },
    )
    req.on('error', () => resolve(false))
    req.end(body)
  })
}

async function run(url: URL, adminKey: string, concurrency: number, seconds: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const end = Date.now() + seconds * 1000
  let n = 0
  let ok = 0
  let failed = 0
  const loop = async () => {
    while (Date.now() < end) {
      if (await preview(url, adminKey, agent, n++)) ok += 1
      else failed += 1
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop))
  agent.destroy()
  return { previews: n, ok, failed }
}

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, url = '', adminKey = '', concurrency = '200', seconds = '4'] = line.trim().split(/\s+/)
  if (cmd !== 'go') continue
  const result = await run(new URL(url), adminKey, Number(concurrency), Number(seconds))
  process.stdout.write(`${JSON.stringify(result)}\n`)
}
source.close()
