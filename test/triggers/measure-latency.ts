/**
 * Trigger latency: from just before the client POSTs a `Product Viewed` event (delay 0) to the
 * moment the test SMTP server has accepted the message. One event at a time, N recipients.
 * Run: npx tsx test/triggers/measure-latency.ts [N]
 */
import { randomUUID } from 'node:crypto'
import { api, identify } from '../campaigns/campaign-api.ts'
import { startSmtpServer } from '../delivery/smtp-test-server.ts'
import { basicAuth, startTestApp } from '../helpers/app.ts'

const n = Number(process.argv[2] ?? 50)
const smtp = await startSmtpServer()
const app = await startTestApp({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, from: 'Shop <news@shop.example>' })
try {
  await api(app, 'PUT', '/v1/templates/browse', {
    subject: 'About {{ event.properties.name }}',
    html: '<html><body><p>Hi {{ user_id }}, the {{ event.properties.name }} is waiting.</p></body></html>',
  })
  await api(app, 'PUT', '/v1/triggers/viewed', { event: 'Product Viewed', templateId: 'browse' })
  const users = Array.from({ length: n + 5 }, (_, i) => `lat-${i}`)
  await identify(app, Object.fromEntries(users.map((u) => [u, { email: `${u}@example.com` }])))
  const samples: number[] = []
  for (const [i, userId] of users.entries()) {
    const t0 = performance.now()
    const res = await fetch(`${app.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({
        batch: [
          {
            type: 'track',
            userId,
            event: 'Product Viewed',
            messageId: randomUUID(),
            properties: { name: 'Kettle' },
          },
        ],
      }),
    })
    await res.arrayBuffer()
    await smtp.waitForMessages(i + 1, 10_000)
    // The first 5 warm up connections, the compiled template and the profile cache.
    if (i >= 5) samples.push(performance.now() - t0)
  }
  samples.sort((a, b) => a - b)
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)]!
  console.log(
    `trigger latency over ${samples.length} events (event POST → SMTP accepted): ` +
      `p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${samples.at(-1)!.toFixed(1)} ms`,
  )
} finally {
  await app.close()
  await smtp.close()
}
