/**
 * A render worker (render-pool.ts): renders emails and live blocks (render-tasks.ts) off the HTTP
 * event loop. Connected-content calls go back to the pool's thread (host `fetch`), so every render of
 * the process shares one connected-content cache, coalescer and circuit breakers, as before.
 */
import type {
  ConnectedContent,
  ConnectedContentOutcome,
  ConnectedContentRequest,
} from '../content/connected-content/connected-content.ts'
import { callHost, serveTasks } from '../core/pool-worker.ts'
import { niceThisThread, RENDER_WORKER_NICE } from '../core/thread-priority.ts'
import { type BlockTask, type EmailTask, RenderTasks } from './render-tasks.ts'
import { warmRender } from './warm.ts'

const connectedContent: ConnectedContent = {
  // An AbortSignal cannot cross threads; the call is bounded by its timeoutMs in the pool's thread.
  fetch: ({ signal: _, ...req }: ConnectedContentRequest) => callHost<ConnectedContentOutcome>('fetch', req),
  close: async () => {},
}

// Renders give way to the HTTP event loop when the cores are all busy (thread-priority.ts).
niceThisThread(RENDER_WORKER_NICE)

const tasks = new RenderTasks(connectedContent)

serveTasks(
  {
    email: (t: EmailTask) => tasks.email(t),
    block: (t: BlockTask) => tasks.block(t),
  },
  () => warmRender(tasks),
)
