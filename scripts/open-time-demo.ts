/**
 * `npm run demo:open-time` — the open-time loop against a running server (`npm start` in another terminal):
 * saves a template with a live block, sends it to a demo recipient (to the `.eml` outbox when no
 * INKSTREAM_SMTP_URL is set), takes the block's URL from the sent message as a mail client would,
 * then records a product view through the collector and prints how long until the block, fetched
 * from that URL, shows it.
 *
 * Reads INK_ADMIN_KEY / INK_WRITE_KEY (`eval "$(npm run -s inkstream -- keys)"`), INKSTREAM_URL
 * (default http://127.0.0.1:8080) and INKSTREAM_DATA_DIR (default ./data) for the outbox.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const base = (process.env.INKSTREAM_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')
const outbox = join(process.env.INKSTREAM_DATA_DIR ?? 'data', 'outbox')
const admin = process.env.INK_ADMIN_KEY
const write = process.env.INK_WRITE_KEY
if (!admin || !write) {
  process.stderr.write('set the keys first: eval "$(npm run -s inkstream -- keys)"\n')
  process.exit(2)
}

const run = Date.now().toString(36)
const user = `demo-${run}`
const product = `Walnut desk lamp ${run}`

async function call(method: string, path: string, body: unknown, auth: string): Promise<unknown> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${text}`)
  return text === '' ? undefined : JSON.parse(text)
}
const asAdmin = `Bearer ${admin}`
const asWriter = `Basic ${Buffer.from(`${write}:`).toString('base64')}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Quoted-printable (RFC 2045) to text. */
const decodeQp = (qp: string) =>
  Buffer.from(
    qp
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  ).toString('utf8')

async function main(): Promise<void> {
  await call(
    'PUT',
    '/v1/templates/demo-live',
    {
      subject: 'Still thinking about it?',
      html: `<p>Hello {{ first_name | default: "there" }}</p>{% live "hero" width: 480, height: 120 %}<div style="display:flex;align-items:center;width:480px;height:120px;background:#fff4e0;padding:16px"><span style="font-size:24px">Still thinking about {{ last_viewed_product.name }}?</span></div>{% fallback %}Our new arrivals are in.{% endlive %}`,
    },
    asAdmin,
  )
  await call(
    'POST',
    '/v1/identify',
    { userId: user, traits: { email: `${user}@example.com`, firstName: 'Demo' } },
    asWriter,
  )
  // Let the processor fold the identify first (GET /healthz: consumerLag 0) — the recipient needs
  // their email trait when the campaign reads the audience.
  for (const end = Date.now() + 10_000; ; await sleep(20)) {
    const health = (await (await fetch(`${base}/healthz`)).json()) as { consumerLag: number }
    if (health.consumerLag === 0) break
    if (Date.now() > end) throw new Error(`the processor is ${health.consumerLag} events behind`)
  }
  const campaign = `demo-${run}`
  await call(
    'PUT',
    `/v1/campaigns/${campaign}`,
    { templateId: 'demo-live', audience: { userIds: [user] }, from: 'Shop <news@shop.example>' },
    asAdmin,
  )
  const since = Date.now()
  await call('POST', `/v1/campaigns/${campaign}/start`, undefined, asAdmin)
  let url: string | undefined
  for (const end = Date.now() + 15_000; url === undefined; await sleep(100)) {
    if (Date.now() > end) throw new Error(`no message for ${user} in ${outbox} (is INKSTREAM_SMTP_URL set?)`)
    let files: string[] = []
    try {
      files = readdirSync(outbox).filter((f) => f.endsWith('.eml'))
    } catch {}
    for (const f of files) {
      const path = join(outbox, f)
      if (statSync(path).mtimeMs < since - 1000) continue
      const text = decodeQp(readFileSync(path, 'utf8'))
      if (!text.includes(`To: ${user}@example.com`)) continue
      url = /src="(http[^"]*\/o\/[^"]*\/hero\.png)"/.exec(text)?.[1]
    }
  }
  const jsonUrl = url.replace(/\.png$/, '.json')
  const text = async () =>
    ((await (await fetch(jsonUrl)).json()) as { items: { text: string }[] }).items[0]?.text
  process.stdout.write(`sent to ${user}@example.com; the live block in the message:\n  ${url}\n`)
  process.stdout.write(`  now: "${await text()}"\n`)

  const t0 = performance.now()
  await call(
    'POST',
    '/v1/track',
    {
      userId: user,
      event: 'Product Viewed',
      properties: { product_id: `p-${run}`, name: product, price: 89 },
    },
    asWriter,
  )
  const acked = performance.now() - t0
  for (;;) {
    const now = await text()
    if (now?.includes(product)) {
      const ms = performance.now() - t0
      const png = await fetch(url)
      const pngMs = performance.now() - t0
      process.stdout.write(
        `after POST /v1/track (acknowledged in ${acked.toFixed(0)} ms): "${now}"\n` +
          `  the JSON showed it ${ms.toFixed(0)} ms after the track call, the PNG (${png.status}, ` +
          `${(await png.arrayBuffer()).byteLength} bytes) ${pngMs.toFixed(0)} ms after it\n` +
          `  open ${url} in a browser to see the image\n`,
      )
      return
    }
    if (performance.now() - t0 > 10_000) throw new Error(`the block still shows "${now}" after 10 s`)
    await sleep(20)
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`)
  process.exitCode = 1
})
