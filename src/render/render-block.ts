/**
 * renderBlock — open-time rendering of ONE live block of a compiled template (DESIGN.md §4), with
 * the same engine, render state, connected-content prefetch, deadline and fallback accounting as
 * renderEmail (render-session.ts). The block sees the recipient's data and what the template's
 * top-level `connected_content` calls save (those outside any live block, in the HTML part), plus
 * the calls inside the block. It never throws for data problems: a missing trait, a late or failed
 * source, a Liquid error or a render limit in the body gives the fallback, `fellBack: true`, and
 * the report says why.
 */
import { toValueSync } from 'liquidjs'
import { type CompiledTemplate, findSources, isSource, type LiveTag } from '../content/compile.ts'
import type { Engine } from '../content/liquid-engine.ts'
import { recordBlockFallback } from '../content/tags/block-tag.ts'
import type { ConnectedContentTag } from '../content/tags/connected-content-tag.ts'
import { type LiveBlockDef, type OpenTimeRender, plainText } from '../content/tags/live-tag.ts'
import { walkTemplates } from '../content/template-walk.ts'
import { drive } from './drive.ts'
import type { RecipientData, RenderOptions, RenderReport } from './render-email.ts'
import { startRender } from './render-session.ts'

export interface BlockRender {
  def: LiveBlockDef
  /** true when the fallback was used (data missing, source failed/late, Liquid error in the body). */
  fellBack: boolean
  /** image: the HTML to lay out (the body, or the fallback wrapped to the block's size). */
  markup: string
  /** plain text of what was rendered (body or fallback): alt text and the JSON's `text`. */
  text: string
  /** countdown: the target instant, epoch ms (undefined when it fell back). */
  untilMs?: number
  report: RenderReport
}

/** Sources of the HTML part outside every live block: the template-level data a block may read. */
const topLevelSources = new WeakMap<CompiledTemplate, ConnectedContentTag[]>()

function templateSources(compiled: CompiledTemplate): ConnectedContentTag[] {
  let found = topLevelSources.get(compiled)
  if (!found) {
    const inBlocks = new Set<object>()
    for (const tag of compiled.live.values()) walkTemplates([tag], (node) => inBlocks.add(node))
    found = findSources([compiled.html]).filter((s) => !inBlocks.has(s))
    topLevelSources.set(compiled, found)
  }
  return found
}

/** The calls inside one block (body and fallback). */
function blockSources(tag: LiveTag): ConnectedContentTag[] {
  const found: ConnectedContentTag[] = []
  walkTemplates([...tag.body, ...tag.fallback], (node) => {
    if (isSource(node)) found.push(node)
  })
  return found
}

const discard = { buffer: '', write() {} }

/** The block's fallback HTML sized to the block, for the image renderer (satori lays out flexbox). */
export function fallbackMarkup(def: LiveBlockDef, html: string): string {
  return (
    `<div style="display:flex;align-items:center;justify-content:center;text-align:center;` +
    `width:${def.width}px;height:${def.height}px;background:#ffffff;color:#222222;` +
    `font-size:${Math.max(10, Math.min(32, Math.round(def.height / 4)))}px">${html}</div>`
  )
}

/** Renders the block `name` for one recipient at open time; undefined when the version has no such block. */
export async function renderBlock(
  engine: Engine,
  compiled: CompiledTemplate,
  name: string,
  recipient: RecipientData,
  opts: RenderOptions,
  started = performance.now(),
): Promise<BlockRender | undefined> {
  const tag = compiled.live.get(name)
  if (tag === undefined) return undefined
  const session = startRender(engine, compiled, recipient, opts, started)
  const { state } = session
  const placeholder = `${tag.name} ${tag.def.name}`
  let rendered: OpenTimeRender
  try {
    const top = templateSources(compiled)
    await session.prefetch([...top, ...blockSources(tag)])
    const ctx = session.context(false)
    // The template-level calls save their data (`:save`) for the block, as in the message.
    for (const source of top) await drive(source.render(ctx, discard))
    rendered = (await drive(tag.renderOpenTime(ctx))) as OpenTimeRender
  } catch {
    // A render limit, an abort_message or anything else thrown inside the block: the fallback.
    state.fallbacks.length = 0
    recordBlockFallback(state, placeholder, 'error')
    let html = ''
    try {
      html = String(toValueSync(engine.html.renderer.renderTemplates(tag.fallback, session.context(true))))
    } catch {
      html = tag.def.alt ?? ''
    }
    rendered = { fellBack: true, html }
  }
  const text = plainText(rendered.html)
  const markup =
    tag.def.kind === 'image' && !rendered.fellBack ? rendered.html : fallbackMarkup(tag.def, rendered.html)
  return {
    def: tag.def,
    fellBack: rendered.fellBack,
    markup,
    text,
    ...(rendered.untilMs === undefined ? {} : { untilMs: rendered.untilMs }),
    report: session.report(),
  }
}
