/**
 * Renders off the HTTP event loop (issue 14): previews and open-time renders go to a pool of worker
 * threads, one per core (src/core/pool.ts, render-worker.ts). This thread keeps the data: it reads
 * the template version and the workspace's blocks (here, cached per workspace until its blocks
 * change) and the recipient (the callers), sends them as plain data, and answers the workers'
 * connected-content calls with the process's one ConnectedContent (its cache, coalescer, breakers).
 *
 * The workers start with start() and each renders a first message before it takes renders; until
 * one is ready (the first second or so of a process), renders run in this thread as before, so no
 * render waits for a worker to boot (an open's 250 ms deadline would not survive it).
 */
import { createHash } from 'node:crypto'
import type {
  ConnectedContent,
  ConnectedContentRequest,
} from '../content/connected-content/connected-content.ts'
import { DEFAULT_LIMITS } from '../content/liquid-engine.ts'
import type { TemplateStore, TemplateVersion } from '../content/template-store.ts'
import { notFound } from '../core/errors.ts'
import { WorkerPool, type WorkerStats } from '../core/pool.ts'
import type { BlockRender } from '../render/render-block.ts'
import type { RenderResult } from '../render/render-email.ts'
import { type BlockTask, type EmailTask, type EngineSpec, type Renders, RenderTasks } from './render-tasks.ts'

export interface RenderPoolDeps {
  templates: Pick<TemplateStore, 'getVersion' | 'blocks'>
  connectedContent: ConnectedContent
  /** Worker threads; default: one per core. */
  size?: number
}

/**
 * A render answers by its deadline plus Liquid's own render-time limit (sources are abandoned at the
 * deadline; the Liquid that follows is bounded by renderLimit), after compiling its version if this
 * worker has not yet (a draft always): MJML, which no deadline bounds, here or before (a large
 * template takes seconds on a loaded 2-core host). A worker silent past all that is stuck or
 * saturated, and the caller gets INK_ERR_WORKER_TIMEOUT instead of waiting on.
 */
const COMPILE_ALLOWANCE_MS = 10_000

export class RenderPool implements Renders {
  readonly #pool: WorkerPool
  readonly #here: RenderTasks
  readonly #specs = new Map<string, Promise<EngineSpec>>()

  constructor(private readonly deps: RenderPoolDeps) {
    this.#here = new RenderTasks(deps.connectedContent)
    this.#pool = new WorkerPool({
      name: 'render pool',
      module: new URL('./render-worker.ts', import.meta.url),
      ...(deps.size === undefined ? {} : { size: deps.size }),
      host: { fetch: (req: ConnectedContentRequest) => deps.connectedContent.fetch(req) },
    })
  }

  /** Starts the workers; they warm up in the background. */
  start(): void {
    this.#pool.start()
  }

  /** Resolves once a worker takes renders. */
  whenReady(): Promise<void> {
    return this.#pool.whenReady()
  }

  /** The workers, with their renders in flight and answered. */
  stats(): WorkerStats[] {
    return this.#pool.stats()
  }

  /** The workspace's blocks and their key (read once, until invalidate()). */
  engine(workspaceId: string): Promise<EngineSpec> {
    let spec = this.#specs.get(workspaceId)
    if (spec === undefined) {
      spec = this.deps.templates.blocks(workspaceId).then((blocks) => ({
        workspaceId,
        key: createHash('sha256')
          .update(JSON.stringify(Object.entries(blocks).sort()))
          .digest('base64url'),
        blocks,
      }))
      spec.catch(() => this.#specs.delete(workspaceId))
      this.#specs.set(workspaceId, spec)
    }
    return spec
  }

  /** The workspace's blocks changed: the next render reads them again. */
  invalidate(workspaceId: string): void {
    this.#specs.delete(workspaceId)
  }

  /** A stored version (latest when `version` is undefined); INK_ERR_NOT_FOUND when there is none. */
  async version(workspaceId: string, templateId: string, version?: number): Promise<TemplateVersion> {
    const v = await this.deps.templates.getVersion(workspaceId, templateId, version)
    if (!v)
      throw notFound(
        version === undefined ? `template "${templateId}"` : `version ${version} of template "${templateId}"`,
      )
    return v
  }

  email(task: EmailTask): Promise<RenderResult> {
    if (!this.#pool.ready) {
      this.#pool.start()
      return this.#here.email(task)
    }
    return this.#pool.run('email', task, { timeoutMs: timeoutOf(task), key: keyOf(task) })
  }

  block(task: BlockTask): Promise<BlockRender | undefined> {
    if (!this.#pool.ready) {
      this.#pool.start()
      return this.#here.block(task)
    }
    return this.#pool.run('block', task, { timeoutMs: timeoutOf(task), key: keyOf(task) })
  }

  close(): Promise<void> {
    return this.#pool.close()
  }
}

/** A version renders in one worker while that one keeps up: compiled once, not once per worker. */
const keyOf = (t: EmailTask | BlockTask) =>
  `${t.engine.workspaceId}\n${t.version.templateId}\n${t.version.version}`

const timeoutOf = (t: { deadline: number }) =>
  Math.max(0, t.deadline - Date.now()) + DEFAULT_LIMITS.renderLimit + COMPILE_ALLOWANCE_MS
