/**
 * The renders a worker runs (render-worker.ts), over plain data that crossed the thread boundary:
 * the workspace's blocks, the template version, the recipient's data and the render's options. The
 * Liquid engines and compiled versions are built here, once per worker, and kept; connected content
 * is whatever ConnectedContent the worker was given (there: the pool thread's, through callHost).
 */
import { type CompiledTemplate, compileTemplate } from '../content/compile.ts'
import type { ConnectedContent } from '../content/connected-content/connected-content.ts'
import { createEngine, type Engine } from '../content/liquid-engine.ts'
import type { Faults } from '../content/render-state.ts'
import type { TemplateVersion } from '../content/template-store.ts'
import { type BlockRender, renderBlock } from '../render/render-block.ts'
import { type RecipientData, type RenderResult, renderEmail } from '../render/render-email.ts'

/** A workspace's blocks (partials) and a key that changes whenever they do. */
export interface EngineSpec {
  workspaceId: string
  key: string
  blocks: Record<string, string>
}

interface TaskBase {
  engine: EngineSpec
  /** A stored version (compiled once per worker and kept), or a draft (version 0, compiled for this render only). */
  version: TemplateVersion
  recipient: RecipientData
  /** Epoch ms by which the render answers (Date.now() is one clock across threads). */
  deadline: number
  budgetMs: number
  workspaceFallbacks: Readonly<Record<string, unknown>>
  /** When the render's clock started, as performance.timeOrigin + performance.now() of the caller's thread. */
  startedAt: number
}

export interface EmailTask extends TaskBase {
  faults?: Faults | undefined
  live?: { baseUrl: string; token: string } | undefined
}

export interface BlockTask extends TaskBase {
  name: string
}

/** What a render pool does: renderEmail and renderBlock over plain data. */
export interface Renders {
  email(task: EmailTask): Promise<RenderResult>
  /** undefined when the version has no block of that name. */
  block(task: BlockTask): Promise<BlockRender | undefined>
}

const MAX_COMPILED = 500
const MAX_ENGINES = 100

/** The caller's clock start in this thread's performance.now() terms. */
const startedHere = (startedAt: number) => startedAt - performance.timeOrigin

export class RenderTasks implements Renders {
  readonly #engines = new Map<string, Engine>()
  readonly #compiled = new Map<string, Promise<CompiledTemplate>>()

  constructor(private readonly connectedContent: ConnectedContent) {}

  async email(t: EmailTask): Promise<RenderResult> {
    const engine = this.#engine(t.engine)
    const compiled = await this.#compile(t.engine, t.version, engine)
    return renderEmail(
      engine,
      compiled,
      t.recipient,
      {
        workspaceId: t.engine.workspaceId,
        deadline: t.deadline,
        budgetMs: t.budgetMs,
        faults: t.faults,
        workspaceFallbacks: t.workspaceFallbacks,
        live: t.live,
      },
      startedHere(t.startedAt),
    )
  }

  async block(t: BlockTask): Promise<BlockRender | undefined> {
    const engine = this.#engine(t.engine)
    const compiled = await this.#compile(t.engine, t.version, engine)
    return renderBlock(
      engine,
      compiled,
      t.name,
      t.recipient,
      {
        workspaceId: t.engine.workspaceId,
        deadline: t.deadline,
        budgetMs: t.budgetMs,
        workspaceFallbacks: t.workspaceFallbacks,
      },
      startedHere(t.startedAt),
    )
  }

  #engine(spec: EngineSpec): Engine {
    const key = `${spec.workspaceId}\n${spec.key}`
    let e = this.#engines.get(key)
    if (e === undefined) {
      e = createEngine({ blocks: spec.blocks, connectedContent: this.connectedContent })
      this.#engines.set(key, e)
      if (this.#engines.size > MAX_ENGINES) this.#engines.delete(this.#engines.keys().next().value as string)
    }
    return e
  }

  #compile(spec: EngineSpec, v: TemplateVersion, engine: Engine): Promise<CompiledTemplate> {
    // A draft changes with every keystroke of the editor: compiled for its render, not kept.
    if (v.version === 0) return compileTemplate(v, engine)
    const key = `${spec.workspaceId}\n${spec.key}\n${v.templateId}\n${v.version}\n${v.hash}`
    let c = this.#compiled.get(key)
    if (c === undefined) {
      c = compileTemplate(v, engine)
      c.catch(() => this.#compiled.delete(key))
      this.#compiled.set(key, c)
      if (this.#compiled.size > MAX_COMPILED)
        this.#compiled.delete(this.#compiled.keys().next().value as string)
    }
    return c
  }
}
