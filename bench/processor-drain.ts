/**
 * The processor alone draining a backlog, in a child process (bench/processor.ts runs it): the
 * store is a copy of a template holding <profiles> profiles (lib/profile-template.ts), <events>
 * track events of those profiles' users are appended to the log before the clock starts, then the
 * processor (production classes and settings: segments, triggers, default traits, batch size,
 * linger) folds and commits them. Prints `{"eventsPerSecond": n, ...}`.
 *
 * usage: node --import tsx bench/processor-drain.ts <profiles> <events> <batch size>
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openEmbeddedProcessorBackends } from '../src/compose/embedded-processor.ts'
import type { InkEvent } from '../src/core/types.ts'
import { Processor } from '../src/pipeline/processor.ts'
import { loadTraitsConfig } from '../src/traits/traits-config.ts'
import { selfCpuMeter } from './lib/child-json.ts'
import { copyTemplate, trackEvents } from './lib/profile-template.ts'

async function main(): Promise<void> {
  const [profiles = 10_000, events = 100_000, batchSize = 2000] = process.argv.slice(2).map(Number)
  const dir = mkdtempSync(join(tmpdir(), 'inkstream-drain-'))
  try {
    const databaseFile = join(dir, 'inkstream.db')
    copyTemplate(profiles, databaseFile)
    const backends = openEmbeddedProcessorBackends({
      databaseFile,
      logFile: join(dir, 'log.db'),
      synchronous: 'full',
    })
    let chunk: InkEvent[] = []
    for (const e of trackEvents(events, profiles)) {
      chunk.push(e)
      if (chunk.length === 5000) {
        await backends.log.append(chunk)
        chunk = []
      }
    }
    if (chunk.length > 0) await backends.log.append(chunk)
    let done = 0
    let commitSeconds = 0
    let batches = 0
    let finished: () => void = () => {}
    const drained = new Promise<void>((r) => {
      finished = r
    })
    const processor = new Processor({
      log: backends.log,
      store: backends.store,
      traits: loadTraitsConfig().traits,
      clock: { now: () => Date.now() },
      logger: { error: (o) => console.error(o), warn: (o) => console.error(o) },
      batchSize,
      dedupeWindowMs: 7 * 24 * 3600_000,
      segments: backends.segments,
      triggers: backends.triggers,
      lingerMs: 10,
      onBatch: (r) => {
        done += r.applied
        commitSeconds += r.commitSeconds
        batches += 1
        if (done >= events) finished()
      },
    })
    const stopCpu = selfCpuMeter()
    const t0 = performance.now()
    await processor.start()
    await drained
    const seconds = (performance.now() - t0) / 1000
    const cpu = stopCpu()
    await processor.close()
    await backends.close()
    process.stdout.write(
      `${JSON.stringify({ eventsPerSecond: events / seconds, seconds, batches, commitShare: commitSeconds / seconds, cpu })}\n`,
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1]?.endsWith('processor-drain.ts')) await main()
