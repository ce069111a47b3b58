/**
 * Compiles a template version once: MJML → HTML (with the Liquid still in it), then every part is
 * parsed by liquidjs. Per recipient, only Liquid renders. When no text body is given, the text
 * template is derived from the compiled HTML here, once, rather than per recipient.
 */
import { convert } from 'html-to-text'
import type { Template } from 'liquidjs'
import type mjml2html from 'mjml'
import { InkError } from '../core/errors.ts'
import { type Engine, translateOrKeep } from './liquid-engine.ts'
import type { ConnectedContentTag } from './tags/connected-content-tag.ts'
import { isLiveTag, type LiveBlockTag } from './tags/live-tag.ts'
import { type TemplateInput, type TemplateVersion, versionInput } from './template-store.ts'
import { walkTemplates } from './template-walk.ts'

export interface CompiledTemplate {
  templateId: string
  version: number
  subject: Template[]
  preheader: Template[]
  html: Template[]
  text: Template[]
  textGenerated: boolean
  mjmlMs: number
  /**
   * Every connected-content tag of every part, so their calls can start together before rendering;
   * those inside a live block's body are left out: that body renders at open time only.
   */
  sources: ConnectedContentTag[]
  /** The live blocks (`{% live %}`, `{% countdown %}`) of the HTML part, by name. */
  live: ReadonlyMap<string, LiveTag>
  /** The message needs an open-time token: it has live blocks or prints `{{ view_url }}`. */
  openTime: boolean
}

export type LiveTag = LiveBlockTag

export interface TemplateProblem {
  part: 'subject' | 'preheader' | 'body' | 'text'
  kind: 'mjml' | 'liquid'
  line: number | null
  message: string
}

/** Replaced by the rendered preheader, HTML-escaped, after the body renders. */
export const PREHEADER_MARKER = '<!--inkstream:preheader-->'
const PREHEADER_SLOT = `<div style="display:none;max-height:0;overflow:hidden;mso-hide:all" aria-hidden="true">${PREHEADER_MARKER}</div>`

/** Headings keep their case and lines are not wrapped, as the text part is read by people. */
const TEXT_OPTIONS = {
  wordwrap: false as const,
  selectors: [
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
    { selector: 'img', format: 'skip' },
    { selector: 'div[aria-hidden=true]', format: 'skip' },
  ],
}

async function toHtml(
  input: Pick<TemplateInput, 'format' | 'body'>,
): Promise<{ html: string; problems: TemplateProblem[]; ms: number }> {
  if (input.format === 'html') return { html: input.body, problems: [], ms: 0 }
  // Loaded with the first MJML body (hundreds of modules: juice, cheerio, htmlnano…), not at
  // start-up; outside the timing, which is the compile's.
  const { default: mjml } = await import('mjml')
  const started = performance.now()
  let result: Awaited<ReturnType<typeof mjml2html>>
  try {
    result = await mjml(input.body, { validationLevel: 'soft', keepComments: false })
  } catch (err) {
    return {
      html: '',
      problems: [{ part: 'body', kind: 'mjml', line: null, message: (err as Error).message }],
      ms: performance.now() - started,
    }
  }
  const problems = result.errors.map((e) => ({
    part: 'body' as const,
    kind: 'mjml' as const,
    line: e.line ?? null,
    message: e.message,
  }))
  return { html: result.html, problems, ms: performance.now() - started }
}

const LIQUID = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g
const CONNECTED_CONTENT = /^\{%-?\s*connected_content\b/

/**
 * The text part as a Liquid template, derived once from the compiled HTML: each Liquid segment is
 * swapped for an inert token so html-to-text cannot reflow or re-case it, then put back. Calls to
 * connected content are dropped: the body's render has already saved their data in the shared scope.
 */
export function htmlToTextTemplate(html: string): string {
  const segments: string[] = []
  const protectedHtml = html.replace(LIQUID, (m) => `\u2063${segments.push(m) - 1}\u2063`)
  return convert(protectedHtml, TEXT_OPTIONS)
    .replace(/\u2063(\d+)\u2063/g, (_, i: string) => {
      const seg = segments[Number(i)]!
      return CONNECTED_CONTENT.test(seg) ? '' : seg
    })
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}

export function withPreheaderSlot(html: string): string {
  const body = /<body[^>]*>/i.exec(html)
  if (!body) return PREHEADER_SLOT + html
  const at = body.index + body[0].length
  return html.slice(0, at) + PREHEADER_SLOT + html.slice(at)
}

function parse(
  engine: Engine['html'],
  source: string,
  part: TemplateProblem['part'],
  problems: TemplateProblem[],
): Template[] {
  try {
    return engine.parse(source)
  } catch (err) {
    const line =
      (err as { token?: { getPosition?: () => [number, number] } }).token?.getPosition?.()[0] ?? null
    problems.push({
      part,
      kind: 'liquid',
      line,
      message: (err as Error).message.split('\n')[0] ?? 'parse error',
    })
    return []
  }
}

/** Every MJML and Liquid problem of a template, with line numbers where the tools give them. */
export async function validateTemplate(input: TemplateInput, engine: Engine): Promise<TemplateProblem[]> {
  const { problems } = await compileParts(input, engine)
  return problems
}

async function compileParts(input: TemplateInput, engine: Engine) {
  const problems: TemplateProblem[] = []
  // Liquid in the MJML source must parse before MJML sees it, so line numbers match what was written.
  const source = parse(engine.html, input.body, 'body', problems)
  problems.push(...duplicateLiveNames(source))
  // Braze's `${name}` attributes are translated before MJML, so the derived text part has ours too.
  const {
    html,
    problems: mjmlProblems,
    ms,
  } = await toHtml({ format: input.format, body: translateOrKeep(input.body) })
  problems.push(...mjmlProblems)
  const subject = parse(engine.text, input.subject, 'subject', problems)
  const preheader = parse(engine.text, input.preheader ?? '', 'preheader', problems)
  const htmlTpl = problems.length > 0 ? [] : parse(engine.html, withPreheaderSlot(html), 'body', problems)
  // A text part derived from a broken body would only repeat the body's problems.
  const bodyBroken = problems.some((p) => p.part === 'body')
  const text =
    input.text !== undefined
      ? parse(engine.text, input.text, 'text', problems)
      : bodyBroken
        ? []
        : parse(engine.text, htmlToTextTemplate(html), 'text', problems)
  return { problems, subject, preheader, html: htmlTpl, text, mjmlMs: ms }
}

/** Compiles a stored version; throws INK_ERR_TEMPLATE_INVALID listing every problem. */
export async function compileTemplate(v: TemplateVersion, engine: Engine): Promise<CompiledTemplate> {
  const parts = await compileParts(versionInput(v), engine)
  if (parts.problems.length > 0) throw templateInvalid(parts.problems)
  const live = new Map(liveBlocks(parts.html).map((tag) => [tag.def.name, tag]))
  return {
    templateId: v.templateId,
    version: v.version,
    subject: parts.subject,
    preheader: parts.preheader,
    html: parts.html,
    text: parts.text,
    textGenerated: v.text === null,
    mjmlMs: parts.mjmlMs,
    sources: findSources([parts.subject, parts.preheader, parts.html, parts.text]),
    live,
    openTime: live.size > 0 || [v.body, v.text ?? ''].some((src) => VIEW_URL.test(src)),
  }
}

const VIEW_URL = /\{\{-?\s*view_url\b/

/** The live blocks of parsed templates, in document order, at any depth. */
export function liveBlocks(templates: readonly Template[]): LiveTag[] {
  const found: LiveTag[] = []
  walkTemplates(templates, (node) => {
    if (isLiveTag(node)) found.push(node)
  })
  return found
}

/** A problem for each live block name used more than once in one part. */
function duplicateLiveNames(templates: readonly Template[]): TemplateProblem[] {
  const lines = new Map<string, number[]>()
  for (const tag of liveBlocks(templates)) {
    const at = tag.token.getPosition()[0] ?? 0
    lines.set(tag.def.name, [...(lines.get(tag.def.name) ?? []), at])
  }
  return [...lines]
    .filter(([, at]) => at.length > 1)
    .map(([name, at]) => ({
      part: 'body' as const,
      kind: 'liquid' as const,
      line: at[1] ?? null,
      message: `live block name "${name}" is used ${at.length} times (lines ${at.join(', ')}): give each block its own name`,
    }))
}

/** A parsed `{% connected_content %}` tag. */
export const isSource = (node: object): node is ConnectedContentTag =>
  (node as { name?: unknown }).name === 'connected_content' && 'start' in node

/** Connected-content tags of the parts, except those inside a live block's body. */
export function findSources(parts: readonly (readonly Template[])[]): ConnectedContentTag[] {
  const found: ConnectedContentTag[] = []
  const openTimeOnly = new Set<object>()
  for (const part of parts)
    for (const tag of liveBlocks(part))
      walkTemplates(tag.body, (node) => {
        if (isSource(node)) openTimeOnly.add(node)
      })
  const visit = (node: object) => {
    if (isSource(node) && !openTimeOnly.has(node)) found.push(node)
  }
  for (const part of parts) walkTemplates(part, visit)
  return found
}

export const templateInvalid = (problems: TemplateProblem[]) =>
  new InkError(
    'INK_ERR_TEMPLATE_INVALID',
    `the template has ${problems.length} problem(s): ${problems
      .map((p) => `${p.part}${p.line === null ? '' : ` line ${p.line}`}: ${p.message}`)
      .join('; ')}`,
    { details: { problems } },
  )
