/**
 * The scale-out EventLog on Apache Kafka (kafkajs): one topic, partitioned by workspace + user so
 * the events of one person stay in order on one partition, consumed by a consumer group whose
 * members share the partitions.
 *
 * Durability: an append resolves only when the broker acknowledged it with `acks=all` from an
 * idempotent producer (a retried produce request cannot write a batch twice). Appends arriving in
 * the same turn of the event loop share one produce request (GroupCommit), one in flight at a time,
 * which idempotence with kafkajs requires anyway. When the broker has not acknowledged an append
 * `appendTimeoutMs` after it arrived (also when it waited behind a request in flight), it rejects
 * with INK_ERR_LOG_UNAVAILABLE and the collector answers 503: never a 2xx for an event that is not
 * durable, and the 503 comes in time for a client's own timeout.
 *
 * Connection: `connect()` returns at once and connects in the background, retrying with backoff
 * while the broker is down (a process started during an outage waits for it instead of exiting);
 * `health()` says whether the producer is connected and every consumer has joined its group.
 *
 * Offsets: a LogRecord's `offset` is Kafka's offset + 1, i.e. the position after the record, which
 * is also what Kafka stores as a group's committed offset. Offsets are committed only after the
 * handler resolved (the processor commits its profile changes, with its own copy of the applied
 * offsets, inside the handler), so a crash redelivers, never skips.
 */
import { randomUUID } from 'node:crypto'
import {
  type Admin,
  type EachBatchPayload,
  Kafka,
  type KafkaConfig,
  type Consumer as KafkaConsumer,
  logLevel,
  Partitioners,
  type Producer,
} from 'kafkajs'
import { logUnavailable } from '../core/errors.ts'
import { type Failpoints, noFailpoints } from '../core/failpoints.ts'
import type { InkEvent, LogRecord } from '../core/types.ts'
import type { BatchHandler, ConsumeOptions, Consumer, EncodedEvent, EventLog } from './event-log.ts'
import { GroupCommit } from './group-commit.ts'
import { handBatch } from './hand-batch.ts'
import { OffsetCommits } from './offset-commits.ts'
import { eventOf, type SerializedEvent, serializeEvents } from './serialize.ts'

/**
 * The broker refuses a record batch over message.max.bytes (default 1 MiB), and kafkajs sends one
 * batch per partition per produce request: a group is kept under this many bytes of JSON, so one
 * large request cannot make the broker refuse the others' events with it; a single event must
 * fit in it too.
 */
const MAX_GROUP_BYTES = 900_000

/** A record without its JSON: the key and the batch framing, approximately. */
const RECORD_OVERHEAD_BYTES = 100

/** Group offset commits failing this long make the consumer not ready (/healthz): it is not keeping up its group state. */
const COMMIT_FAILING_NOT_READY_MS = 30_000

/** The log's part in readiness (GET /healthz). */
export interface KafkaLogHealth {
  ready: boolean
  /** Why not, when not ready. */
  reason?: string
}

interface ConsumerState {
  handle: Consumer
  group: string
  /** Undefined when healthy; otherwise why this consumer is not consuming. */
  problem(): string | undefined
}

export interface KafkaEventLogOptions {
  /** host:port of one or more brokers. */
  brokers: readonly string[]
  topic: string
  /** Partitions of the topic when this log creates it (it exists already: left as it is). */
  partitions?: number
  /** Replicas per partition when creating the topic; default 1 (a single test broker). */
  replicationFactor?: number
  clientId?: string
  /**
   * An append not acknowledged this many ms after it arrived rejects (→ 503); default 8 000, so
   * that a client with a 10 s timeout (the README's promise) receives the 503 before it gives up.
   */
  appendTimeoutMs?: number
  /** Longest pause between two attempts to connect while the broker is down; default 5 000. */
  maxRetryDelayMs?: number
  /** Fault points at the append and offset commits (tests); disarmed by default. */
  failpoints?: Failpoints
  /** Where kafkajs logs its warnings and errors; default nowhere. */
  logger?: { warn(obj: unknown, msg: string): void; error(obj: unknown, msg: string): void }
}

/**
 * The Kafka group id of a consumer group: the group's name scoped to the topic. Two deployments
 * sharing a cluster (or a test broker) must never share a group: kafkajs's assigner deals the
 * partitions of every member's topics round robin over all members, so a member of another
 * deployment would be handed partitions of this topic that it never reads.
 */
export const kafkaGroupId = (topic: string, group: string): string => `${topic}.${group}`

/** The partition key: one person's events in one partition, in order. */
export const partitionKey = (e: InkEvent): string => `${e.workspaceId}\n${e.userId ?? e.anonymousId ?? ''}`

/**
 * A kafkajs log entry as fields of an ECS line: its own fields under `kafka.` (its `error` is a
 * string, which Elasticsearch refuses where ECS maps `error` as an object: such lines were dropped
 * by the index), the error as `error.message` and `error.stack_trace`; its timestamp and logger name
 * are the line's own already.
 */
export function kafkaLogFields(log: { message: string; [key: string]: unknown }): Record<string, unknown> {
  const { message: _message, timestamp: _timestamp, logger: _logger, error, stack, ...rest } = log
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(rest)) fields[`kafka.${key}`] = value
  if (error !== undefined) fields['error.message'] = String(error)
  if (stack !== undefined) fields['error.stack_trace'] = String(stack)
  return fields
}

export class KafkaEventLog implements EventLog {
  readonly #kafka: Kafka
  readonly #producer: Producer
  readonly #admin: Admin
  readonly #commit: GroupCommit<SerializedEvent & { key: string }>
  readonly #consumers = new Set<ConsumerState>()
  readonly #topic: string
  readonly #timeoutMs: number
  readonly #maxRetryDelayMs: number
  readonly #opts: KafkaEventLogOptions
  readonly #failpoints: Failpoints
  #closed = false
  /** Resolves once the topic exists and the producer is connected. */
  #ready: Promise<void> = Promise.resolve()
  #connected = false
  #lastConnectError: unknown
  /** Wakes the background connect loop's pause (close). */
  #wakeRetry: (() => void) | undefined

  private constructor(opts: KafkaEventLogOptions) {
    this.#opts = opts
    this.#failpoints = opts.failpoints ?? noFailpoints
    this.#topic = opts.topic
    this.#timeoutMs = opts.appendTimeoutMs ?? 8_000
    this.#maxRetryDelayMs = opts.maxRetryDelayMs ?? 5_000
    const logger = opts.logger
    const config: KafkaConfig = {
      clientId: opts.clientId ?? 'inkstream',
      brokers: [...opts.brokers],
      connectionTimeout: 3_000,
      requestTimeout: Math.min(this.#timeoutMs, 30_000),
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ level, log }) => {
          if (!logger) return
          const fields = kafkaLogFields(log)
          if (level === logLevel.ERROR) logger.error(fields, `kafka: ${log.message}`)
          else if (level === logLevel.WARN) logger.warn(fields, `kafka: ${log.message}`)
        },
    }
    this.#kafka = new Kafka(config)
    this.#producer = this.#kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2 of the key, as the Java client: other producers of the topic put a user in the same partition.
      createPartitioner: Partitioners.DefaultPartitioner,
      // kafkajs retries a failed produce on its own; ours answers the client within appendTimeoutMs.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 1_000 },
    })
    this.#admin = this.#kafka.admin()
    this.#commit = new GroupCommit((events) => this.#send(events), {
      maxItems: 5_000,
      maxSize: MAX_GROUP_BYTES,
      sizeOf: (e) => e.bytes + RECORD_OVERHEAD_BYTES,
    })
  }

  /** Connects, creates the topic if it does not exist, and returns the log; rejects if the broker does not answer. */
  static async open(opts: KafkaEventLogOptions): Promise<KafkaEventLog> {
    const log = new KafkaEventLog(opts)
    try {
      await log.#connectOnce()
      log.#connected = true
    } catch (err) {
      await log.close().catch(() => {})
      throw err
    }
    return log
  }

  /**
   * Returns the log at once and connects in the background, retrying with backoff (up to
   * maxRetryDelayMs) until the broker answers: appends wait for it within their deadline,
   * consumers start once it is there, and health() reports not ready meanwhile.
   */
  static connect(
    opts: KafkaEventLogOptions,
    onRetry?: (err: unknown, attempt: number) => void,
  ): KafkaEventLog {
    const log = new KafkaEventLog(opts)
    log.#ready = log.#connectWithRetry(onRetry)
    log.#ready.catch(() => {})
    return log
  }

  async #connectOnce(): Promise<void> {
    await this.#admin.connect()
    const topics = await this.#admin.listTopics()
    if (!topics.includes(this.#topic)) {
      await this.#admin
        .createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic: this.#topic,
              numPartitions: this.#opts.partitions ?? 8,
              replicationFactor: this.#opts.replicationFactor ?? 1,
            },
          ],
        })
        // Another process created it meanwhile: fine (createTopics answers false, or throws on a race).
        .catch(async (err: unknown) => {
          if (!(await this.#admin.listTopics()).includes(this.#topic)) throw err
        })
    }
    await this.#producer.connect()
  }

  async #connectWithRetry(onRetry?: (err: unknown, attempt: number) => void): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw logUnavailable(new Error('event log is closed'))
      try {
        await this.#connectOnce()
        this.#connected = true
        this.#lastConnectError = undefined
        return
      } catch (err) {
        this.#lastConnectError = err
        onRetry?.(err, attempt)
        await this.#admin.disconnect().catch(() => {})
        await this.#producer.disconnect().catch(() => {})
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(this.#maxRetryDelayMs, 100 * 2 ** attempt))
        this.#wakeRetry = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  /** Ready when the producer is connected and every consumer of this log has joined its group. */
  health(): KafkaLogHealth {
    if (!this.#connected) {
      const why = this.#lastConnectError === undefined ? '' : `: ${(this.#lastConnectError as Error).message}`
      return { ready: false, reason: `not connected to Kafka yet${why}` }
    }
    for (const c of this.#consumers) {
      const problem = c.problem()
      if (problem !== undefined) return { ready: false, reason: `consumer group "${c.group}": ${problem}` }
    }
    return { ready: true }
  }

  append(events: readonly (InkEvent | EncodedEvent)[]): Promise<void> {
    if (this.#closed) return Promise.reject(logUnavailable(new Error('event log is closed')))
    if (events.length === 0) return Promise.resolve()
    let rows: (SerializedEvent & { key: string })[]
    try {
      const maxRecord = MAX_GROUP_BYTES - RECORD_OVERHEAD_BYTES
      rows = serializeEvents(events, maxRecord).map((r, i) => ({
        ...r,
        key: partitionKey(eventOf(events[i]!)),
      }))
    } catch (err) {
      return Promise.reject(err)
    }
    // The deadline counts from now, the request's arrival, not from when its group is sent.
    return this.#commit.add(rows, {
      timeoutMs: this.#timeoutMs,
      onTimeout: () =>
        logUnavailable(new Error(`Kafka did not acknowledge the events within ${this.#timeoutMs} ms`)),
    })
  }

  async #send(events: readonly (SerializedEvent & { key: string })[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    // Frees the one in-flight slot for the next group when the broker does not answer; the
    // callers themselves were rejected by their own deadlines already.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Kafka did not acknowledge within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      )
    })
    let abandoned = false
    const sent = this.#ready
      .then(async () => {
        await this.#failpoints.hit('log.append.before-commit')
        // Still connecting when the callers were answered 503: never send it afterwards.
        if (abandoned) throw new Error('abandoned before the log connected')
        return this.#producer.send({
          topic: this.#topic,
          acks: -1,
          messages: events.map((e) => ({ key: e.key, value: e.json })),
        })
      })
      .then(() => this.#failpoints.hit('log.append.after-commit'))
    try {
      await Promise.race([sent, timeout])
    } catch (err) {
      abandoned = true
      // The request may still succeed later (kafkajs keeps retrying): the client retries with the
      // same messageIds, and the processor's dedupe makes the second copy harmless.
      sent.catch(() => {})
      throw logUnavailable(err)
    } finally {
      clearTimeout(timer)
    }
  }

  consume(group: string, handler: BatchHandler, opts: ConsumeOptions = {}): Consumer {
    const maxBatch = opts.maxBatch ?? 1000
    const commitIntervalMs = opts.commitIntervalMs ?? 0
    const groupId = kafkaGroupId(this.#topic, group)
    const newConsumer = (): KafkaConsumer => {
      const c = this.#kafka.consumer({
        groupId,
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: 100,
        sessionTimeout: 10_000,
        heartbeatInterval: 1_000,
        rebalanceTimeout: 30_000,
      })
      c.on(c.events.GROUP_JOIN, ({ payload }) => {
        // A consumer being replaced may still finish a join: its assignment is not ours.
        if (consumer !== c) return
        joined = true
        crashed = undefined
        assigned = true
        owned = new Set(payload.memberAssignment[this.#topic] ?? [])
        // Offsets of partitions handled before the rebalance are not ours to commit any more: a
        // late commit could move the new owner's committed offset back (its records are then
        // redelivered to it and skipped by its applied offsets, which is harmless but slow).
        commits.retain(owned)
      })
      c.on(c.events.DISCONNECT, () => {
        if (consumer === c) joined = false
      })
      // kafkajs restarts itself after most failures, but not after every one (a connection refused
      // while the broker restarts can end as "non-retriable"): then start a new consumer.
      c.on(c.events.CRASH, ({ payload }) => {
        if (consumer !== c || stopped) return
        joined = false
        crashed = `crashed (${payload.error.message})${payload.restart ? '; kafkajs restarts it' : '; starting a new consumer'}`
        this.#opts.logger?.warn(
          { err: payload.error, restart: payload.restart, group },
          'kafka: consumer crashed',
        )
        if (payload.restart) return
        opts.onError?.(payload.error)
        restart = setTimeout(() => {
          const old = consumer
          consumer = newConsumer()
          started = old
            .disconnect()
            .catch(() => {})
            .then(runUntilStarted)
        }, 1_000)
      })
      return c
    }
    let stopped = false
    let joined = false
    /** Why the current consumer is not consuming after a crash, until it joins again. */
    let crashed: string | undefined
    let restart: NodeJS.Timeout | undefined
    let wakePause: (() => void) | undefined
    // Set by every (re)join: the handler's per-partition state must be reloaded before the next batch.
    let assigned = true
    let owned = new Set<number>()
    let consumer = newConsumer()
    const commits = new OffsetCommits((offsets) =>
      consumer.commitOffsets(
        offsets.map(({ partition, offset }) => ({ topic: this.#topic, partition, offset: String(offset) })),
      ),
    )
    let lastCommit = 0
    let lastCommitReport = 0
    const commit = async (force: boolean) => {
      // A batch does not wait behind a slow commit: what it adds goes with the next one.
      if (commits.size === 0 || (!force && (commits.busy || Date.now() - lastCommit < commitIntervalMs)))
        return
      lastCommit = Date.now()
      try {
        await commits.commit()
      } catch (err) {
        // Reported once per failing streak and then every 10 s, not every idle tick.
        if (Date.now() - lastCommitReport >= 10_000) {
          lastCommitReport = Date.now()
          this.#opts.logger?.warn({ err, group }, 'kafka: committing the group offsets failed; retrying')
        }
        throw err
      }
    }
    const run = async () => {
      await this.#adoptLegacyOffsets(group, groupId)
      await consumer.connect()
      await consumer.subscribe({ topics: [this.#topic], fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => {
          const handling = eachBatch(payload)
          inFlight = handling
          return handling.finally(() => {
            if (inFlight === handling) inFlight = undefined
          })
        },
      })
    }
    // The batch being handled, so close() can let it finish and commit it before stopping.
    let inFlight: Promise<void> | undefined
    const eachBatch = async ({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload) => {
      const records: LogRecord[] = batch.messages.map((m) => ({
        partition: batch.partition,
        offset: Number(m.offset) + 1,
        event: JSON.parse(m.value?.toString('utf8') ?? 'null') as InkEvent,
      }))
      for (let i = 0; i < records.length && !stopped; ) {
        if (!isRunning() || isStale()) return
        // Before the work too, not only after it. When the group is rebalancing this rejects, and
        // kafkajs rejoins only once it has handed over every partition's batch of its fetch: the
        // whole group waits for that (a processor joining a busy one idled for seconds). After a
        // failed heartbeat kafkajs sends the next one at once, so each remaining batch is refused
        // here, unhandled and unresolved (its partition's next owner reads it). Otherwise the
        // heartbeat is sent only once the interval has passed: no cost per chunk.
        await heartbeat()
        const chunk = records.slice(i, i + maxBatch)
        const handled = await handBatch(chunk, handler, opts, {
          failpoints: this.#failpoints,
          reassigned: assigned,
          assigned: () => {
            assigned = false
          },
          whileWaiting: heartbeat,
        })
        if (!handled) continue
        const last = chunk[chunk.length - 1]!
        if (owned.has(batch.partition)) commits.set(batch.partition, last.offset)
        resolveOffset(String(last.offset - 1))
        i += chunk.length
        await commit(false)
        await heartbeat()
      }
    }
    // Until the consumer runs: wait for the connection, and start again (a new consumer, after a
    // growing pause) when connecting or joining fails, e.g. while the broker is down.
    const runUntilStarted = async (): Promise<void> => {
      for (let attempt = 1; !stopped && !this.#closed; attempt++) {
        try {
          await this.#ready
          if (stopped) return
          await run()
          return
        } catch (err) {
          if (stopped || this.#closed) return
          opts.onError?.(err)
          const old = consumer
          await old.disconnect().catch(() => {})
          if (stopped) return
          consumer = newConsumer()
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(this.#maxRetryDelayMs, 100 * 2 ** attempt))
            wakePause = () => {
              clearTimeout(timer)
              resolve()
            }
          })
        }
      }
    }
    let started = runUntilStarted()
    // With commitIntervalMs, the last batch's offsets would wait for the next batch: commit them
    // when the consumer goes idle too (lag reports, a faster hand-over of partitions).
    const idleCommit =
      commitIntervalMs > 0
        ? setInterval(() => {
            if (!commits.busy) void commit(true).catch(() => {})
          }, commitIntervalMs).unref()
        : undefined
    const handle: Consumer = {
      close: async () => {
        if (stopped) return
        stopped = true
        clearInterval(idleCommit)
        clearTimeout(restart)
        wakePause?.()
        await started
        // The batch in flight ends at its next chunk (stopped); what it handled is committed while
        // the consumer is still a member of the group (after stop() kafkajs refuses to commit).
        await inFlight?.catch(() => {})
        await commit(true).catch((err) => opts.onError?.(err))
        await consumer.stop().catch((err) => opts.onError?.(err))
        await consumer.disconnect()
        this.#consumers.delete(state)
      },
    }
    const problem = (): string | undefined => {
      if (crashed !== undefined) return crashed
      if (!joined) return 'not joined'
      const since = commits.failingSince
      if (since !== undefined && Date.now() - since >= COMMIT_FAILING_NOT_READY_MS)
        return `offset commits failing for ${Math.round((Date.now() - since) / 1000)} s (${(commits.lastError as Error)?.message})`
      return undefined
    }
    const state: ConsumerState = { handle, group, problem }
    this.#consumers.add(state)
    return handle
  }

  async lag(group: string): Promise<number> {
    const [ends, committed] = await Promise.all([
      this.#admin.fetchTopicOffsets(this.#topic),
      this.#admin.fetchOffsets({ groupId: kafkaGroupId(this.#topic, group), topics: [this.#topic] }),
    ])
    const done = new Map<number, number>()
    for (const p of committed[0]?.partitions ?? []) done.set(p.partition, Number(p.offset))
    let lag = 0
    for (const p of ends) {
      const end = Number(p.high)
      const at = done.get(p.partition) ?? -1
      // -1: the group never committed on this partition; everything from the low watermark is due.
      lag += at < 0 ? end - Number(p.low) : Math.max(0, end - at)
    }
    return lag
  }

  /**
   * The upgrade from group ids that were the bare group name (docs/architecture.md, scale-out
   * mode, "consumer group ids"): when the scoped group has committed nothing on this topic yet and the old group has,
   * the old group's offsets are copied to it first, so an upgraded processor resumes where the old
   * one stopped instead of reading the topic again from the start (harmless, the applied offsets
   * are kept with the profiles, but slow, and lag would count it all meanwhile).
   */
  async #adoptLegacyOffsets(group: string, groupId: string): Promise<void> {
    const committed = async (id: string) =>
      ((await this.#admin.fetchOffsets({ groupId: id, topics: [this.#topic] }))[0]?.partitions ?? []).filter(
        (p) => Number(p.offset) >= 0,
      )
    if ((await committed(groupId)).length > 0) return
    const legacy = await committed(group)
    if (legacy.length === 0) return
    try {
      await this.#admin.setOffsets({ groupId, topic: this.#topic, partitions: legacy })
    } catch (err) {
      // Another member of the group started first (then it copied them) or did meanwhile.
      if ((await committed(groupId)).length === 0) throw err
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#wakeRetry?.()
    await this.#commit.drain().catch(() => {})
    await Promise.all([...this.#consumers].map((c) => c.handle.close()))
    // A connection attempt in progress ends first, so nothing connects after the disconnects below.
    await this.#ready.catch(() => {})
    await this.#producer.disconnect().catch(() => {})
    await this.#admin.disconnect().catch(() => {})
  }

  /** A topic name no one else uses (tests). */
  static uniqueTopic(prefix = 'inkstream-test'): string {
    return `${prefix}-${randomUUID()}`
  }
}
