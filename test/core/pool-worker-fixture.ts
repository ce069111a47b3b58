/** A WorkerPool worker for test/core/pool.test.ts: tasks that echo, ask the host, fail, crash or hang. */
import { threadId } from 'node:worker_threads'
import { InkError } from '../../src/core/errors.ts'
import { callHost, serveTasks } from '../../src/core/pool-worker.ts'

serveTasks({
  echo: (p: unknown) => ({ threadId, p }),
  /** Waits for the host's `gate` answer (the test decides when), then says which thread it ran in. */
  gated: async (name: string) => ({ threadId, gate: await callHost<string>('gate', name) }),
  refuse: () => {
    throw new InkError('INK_ERR_NOT_FOUND', 'nothing here was not found', { details: ['x'] })
  },
  crash: () => process.exit(3),
  hang: () => new Promise(() => {}),
})
