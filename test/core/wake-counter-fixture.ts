/** A consumer thread whose consumer does nothing and reports every wake-up it gets (consumer-thread.test.ts). */
import { parentPort } from 'node:worker_threads'
import { serveConsumer } from '../../src/core/consumer-thread.ts'

if (parentPort) {
  const port = parentPort
  let wakes = 0
  void serveConsumer(
    port,
    { start: async () => {}, close: async () => {} },
    {
      wake: () => port.postMessage({ type: 'woken', wakes: ++wakes }),
      close: async () => {},
    },
  )
}
