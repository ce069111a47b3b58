/**
 * The one composition root: which routes a process registers for its roles (embedded = every role),
 * and that a scale-out process opens Redis once whatever its roles (real Kafka, PostgreSQL, Redis).
 */

import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import type { RouteOptions } from 'fastify'
import { Redis } from 'ioredis'
import { createApp } from '../../src/app.ts'
import { createScaleOutApp } from '../../src/app-scale-out.ts'
import { redisClientName } from '../../src/compose/scale-out.ts'
import { loadConfig, parseRoles } from '../../src/config.ts'
import { KafkaEventLog } from '../../src/log/kafka-event-log.ts'
import { tempDir } from '../helpers/app.ts'
import { kafkaBrokers, kafkaMissing } from '../helpers/kafka.ts'
import { freshDatabase, pgSkip } from '../helpers/pg.ts'
import { REDIS_URL, redisMissing } from '../helpers/redis.ts'
import { testKey } from '../helpers/server-process.ts'

/** Served by every process. */
const ALWAYS = ['GET /healthz', 'GET /metrics']

/** The collector role: every Segment / RudderStack path, the source config, the browser snippet. */
const COLLECTOR = [
  'GET /sdk.js',
  'GET /sourceConfig',
  'GET /sourceConfig/',
  'OPTIONS *',
  'POST /beacon/v1/batch',
  'POST /beacon/v1/batch/',
  ...['a', 'alias', 'b', 'batch', 'g', 'group', 'i', 'identify', 'import']
    .concat(['p', 'page', 's', 'screen', 't', 'track'])
    .flatMap((p) => [`POST /v1/${p}`, `POST /v1/${p}/`]),
]

/** The api role: admin API (profiles, segments, templates, campaigns, triggers, analytics) and tracking. */
const API = [
  'GET /v1/campaigns/:id/recipients',
  'POST /v1/campaigns/:id/cancel',
  'POST /v1/campaigns/:id/pause',
  'GET /openapi.json',
  'DELETE /v1/blocks/:name',
  'DELETE /v1/segments/:id',
  'DELETE /v1/templates/:id',
  'DELETE /v1/triggers/:id',
  'GET /c/*',
  'GET /o/*',
  'GET /p/*',
  'GET /u/*',
  'POST /u/*',
  // The preference center and double opt-in confirmation (src/topics/preference-routes.ts).
  'GET /prefs/*',
  'POST /prefs/*',
  'GET /confirm/*',
  'POST /confirm/*',
  'GET /v1/blocks',
  'PUT /v1/blocks/:name',
  'GET /v1/campaigns',
  'GET /v1/campaigns/:id',
  'PUT /v1/campaigns/:id',
  'POST /v1/campaigns/:id/start',
  'GET /v1/profiles',
  'GET /v1/profiles/:id',
  'GET /v1/profiles/:id/events',
  'GET /v1/profiles/:id/segments',
  'GET /v1/profiles/:id/messages',
  // Erasure and export of a person (src/privacy/).
  'GET /v1/profiles/:id/export',
  'DELETE /v1/profiles/:id',
  'GET /v1/audit',
  'GET /v1/segments',
  'GET /v1/segments/:id',
  'GET /v1/segments/:id/members',
  'PUT /v1/segments/:id',
  'GET /v1/templates',
  'GET /v1/templates/:id',
  'PUT /v1/templates/:id',
  'GET /v1/templates/:id/lint',
  'GET /v1/templates/:id/versions',
  'POST /v1/templates/:id/preview',
  'POST /v1/templates/:id/test-send',
  'POST /v1/lint',
  'GET /v1/suppressions',
  'GET /v1/suppressions/:email',
  'PUT /v1/suppressions/:email',
  'DELETE /v1/suppressions/:email',
  'GET /v1/topics',
  'GET /v1/topics/:id',
  'PUT /v1/topics/:id',
  'DELETE /v1/topics/:id',
  'GET /v1/profiles/:id/topics',
  'PUT /v1/profiles/:id/topics',
  'GET /v1/triggers',
  'GET /v1/triggers/:id',
  'PUT /v1/triggers/:id',
  'GET /v1/webhooks/deliveries',
  'GET /v1/anomalies',
  'GET /v1/anomalies/rollups',
  'GET /v1/campaigns/:id/stats',
  'GET /v1/triggers/:id/stats',
  'GET /v1/analytics/timeseries',
  'GET /v1/segments/:id/count',
  // The dashboard (src/ui/).
  'GET /',
  'GET /ui/assets/:name',
  'GET /ui/session',
  'POST /ui/session',
  'DELETE /ui/session',
  'POST /ui/csp-report',
  'GET /ui/api/live',
  // ESP webhooks (src/delivery/esp/): bounces, complaints and ESP events.
  'POST /v1/webhooks/ses/:workspaceId/:secret',
  'POST /v1/webhooks/sendgrid/:workspaceId/:secret',
  'POST /v1/webhooks/postmark/:workspaceId/:secret',
]

const sorted = (...lists: string[][]) => lists.flat().sort()

/** Records `METHOD url` of each route registered; HEAD routes fastify adds for GET ones are left out. */
function routeRecorder(): { routes: string[]; onRoute: (route: RouteOptions) => void } {
  const routes: string[] = []
  return {
    routes,
    onRoute: (route) => {
      for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push(`${method} ${route.url}`)
    },
  }
}

describe('embedded mode registers the routes of every role', () => {
  for (const processor of [true, false]) {
    test(`with processor: ${processor}, exactly the collector, api and always-on routes`, async () => {
      const dataDir = tempDir('inkstream-roles-')
      const { routes, onRoute } = routeRecorder()
      const app = await createApp(loadConfig({}, { port: 0, logLevel: 'silent', dataDir }), {
        processor,
        onRoute,
      })
      try {
        assert.deepEqual(routes.sort(), sorted(ALWAYS, COLLECTOR, API))
        const health = await app.server.inject({ method: 'GET', url: '/healthz' })
        assert.equal(health.statusCode, 200)
        assert.deepEqual(health.json(), {
          status: 'ok',
          consumerLag: 0,
          processor: processor ? 'running' : 'off',
        })
      } finally {
        await app.close()
        rmSync(dataDir, { recursive: true, force: true })
      }
    })
  }
})

const skip = (await kafkaMissing()) || (await pgSkip()) || (await redisMissing())

describe('a scale-out process registers the routes of its roles and opens Redis once', {
  skip,
  timeout: 300_000,
}, () => {
  let database: { url: string; drop(): Promise<void> } | undefined
  let redis: Redis | undefined
  const topic = KafkaEventLog.uniqueTopic('inkstream-compose-roles')
  const writeKey = testKey('wk')
  const adminKey = testKey('ak')

  before(async () => {
    database = await freshDatabase('ink_roles')
    redis = new Redis(REDIS_URL)
  })
  after(async () => {
    redis?.disconnect()
    await database?.drop()
  })

  /** Connections in Redis carrying `name` (CLIENT LIST). */
  const connectionsNamed = async (name: string): Promise<number> => {
    const list = String(await redis!.client('LIST'))
    return list.split('\n').filter((line) => line.split(' ').includes(`name=${name}`)).length
  }

  const cases: { roles: string; routes: string[]; redisConnections: number }[] = [
    { roles: 'collector', routes: sorted(ALWAYS, COLLECTOR), redisConnections: 0 },
    { roles: 'processor', routes: sorted(ALWAYS), redisConnections: 1 },
    { roles: 'api', routes: sorted(ALWAYS, API), redisConnections: 1 },
    { roles: 'sender', routes: sorted(ALWAYS), redisConnections: 1 },
    { roles: 'api,sender', routes: sorted(ALWAYS, API), redisConnections: 1 },
    { roles: 'processor,api', routes: sorted(ALWAYS, API), redisConnections: 1 },
    { roles: 'all', routes: sorted(ALWAYS, COLLECTOR, API), redisConnections: 1 },
  ]
  for (const c of cases) {
    test(`--role ${c.roles}: exactly its routes, and ${c.redisConnections} Redis connection(s)`, async () => {
      const dataDir = tempDir('inkstream-roles-')
      const config = loadConfig(
        {},
        {
          port: 0,
          host: '127.0.0.1',
          logLevel: 'silent',
          dataDir,
          writeKey,
          adminKey,
          roles: c.roles,
          kafkaBrokers: kafkaBrokers().join(','),
          kafkaTopic: topic,
          kafkaPartitions: 2,
          databaseUrl: database!.url,
          redisUrl: REDIS_URL,
        },
      )
      const name = redisClientName(config, parseRoles(config.roles))
      const { routes, onRoute } = routeRecorder()
      const app = await createScaleOutApp(config, { onRoute })
      try {
        assert.deepEqual(routes.sort(), c.routes)
        assert.equal(await connectionsNamed(name), c.redisConnections)
      } finally {
        await app.close()
        rmSync(dataDir, { recursive: true, force: true })
      }
      // Closed with the process's other backends (Redis drops a quitting client right after its reply).
      for (let i = 0; (await connectionsNamed(name)) > 0; i++) {
        assert.ok(i < 100, `the Redis connection "${name}" is still open after close()`)
        await new Promise((r) => setTimeout(r, 20))
      }
    })
  }
})
