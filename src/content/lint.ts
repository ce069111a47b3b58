/**
 * Template lint: what will go wrong before it does. Errors: MJML and Liquid problems. Warnings:
 * placeholders with no fallback (no `| default:`, no workspace fallback, not inside a
 * `{% section %}` with a fallback block), traits no computed-trait config produces, and
 * connected-content calls without a `:timeout`, live blocks outside the body (they show only their
 * fallback text there).
 */
import { analyzeSync, Output, type Template } from 'liquidjs'
import { validateTemplate } from './compile.ts'
import type { Engine } from './liquid-engine.ts'
import { isLiveTag } from './tags/live-tag.ts'
import type { TemplateInput } from './template-store.ts'
import { walkTemplates } from './template-walk.ts'

export interface LintProblem {
  level: 'error' | 'warning'
  code: 'mjml' | 'liquid' | 'no-fallback' | 'unknown-trait' | 'source-without-timeout' | 'live-outside-body'
  part: string
  line: number | null
  message: string
}

export interface LintContext {
  engine: Engine
  /** Names the computed-traits config produces. */
  traitNames: readonly string[]
  workspaceFallbacks: Readonly<Record<string, unknown>>
}

/** Names every template can use that are not traits. */
const RESERVED = new Set(['event', 'campaign', 'profile', 'user_id'])

const placeholderOf = (o: Output) => o.token.content.split('|')[0]!.trim()
const rootOf = (s: string) => /^[A-Za-z_][\w-]*/.exec(s)?.[0]

/** The line a liquidjs error points at, when it has one. */
function lineOf(err: unknown): number | null {
  const token: unknown = err instanceof Error ? Reflect.get(err, 'token') : undefined
  const pos: unknown =
    typeof token === 'object' &&
    token !== null &&
    'getPosition' in token &&
    typeof token.getPosition === 'function'
      ? token.getPosition()
      : undefined
  return Array.isArray(pos) && typeof pos[0] === 'number' ? pos[0] : null
}

function missingBlock(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const name = /Failed to lookup "([^"]*)"/.exec(message)?.[1]
  return name === undefined
    ? message
    : `block "${name}" does not exist: save it (PUT /v1/blocks/${name}) or fix the name`
}

export async function lintTemplate(input: TemplateInput, ctx: LintContext): Promise<LintProblem[]> {
  const problems: LintProblem[] = (await validateTemplate(input, ctx.engine)).map((p) => ({
    level: 'error',
    code: p.kind,
    part: p.part,
    line: p.line,
    message: p.message,
  }))
  if (problems.length > 0) return problems
  const known = new Set([...ctx.traitNames, ...RESERVED, ...Object.keys(ctx.workspaceFallbacks)])
  const parts: [string, string][] = [
    ['subject', input.subject],
    ['preheader', input.preheader ?? ''],
    ['body', input.body],
    ...(input.text === undefined ? [] : [['text', input.text] as [string, string]]),
  ]
  for (const [part, source] of parts) {
    const engine = part === 'body' ? ctx.engine.html : ctx.engine.text
    const templates: Template[] = engine.parse(source)
    let analysis: ReturnType<typeof analyzeSync>
    try {
      analysis = analyzeSync(templates, { partials: true })
    } catch (err) {
      // liquidjs follows `{% render %}` / `{% include %}` here: a block that does not exist fails
      // every render of this template, so it is an error, not a crash of the lint.
      problems.push({ level: 'error', code: 'liquid', part, line: lineOf(err), message: missingBlock(err) })
      continue
    }
    const globals = new Set(Object.keys(analysis.globals))
    for (const [name, vars] of Object.entries(analysis.globals)) {
      if (known.has(name)) continue
      problems.push({
        level: 'warning',
        code: 'unknown-trait',
        part,
        line: vars[0] === undefined ? null : vars[0].location.row,
        message: `"${name}" is not produced by any computed trait; it is there only if identify calls send it`,
      })
    }
    walkTemplates(templates, (node, inSection) => {
      if (isLiveTag(node) && part !== 'body' && part !== 'text') {
        problems.push({
          level: 'warning',
          code: 'live-outside-body',
          part,
          line: node.token.getPosition()[0] ?? null,
          message: `${node.name} "${node.def.name}" in the ${part} shows only its fallback text: live blocks render in the body`,
        })
      } else if (node instanceof Output) {
        const placeholder = placeholderOf(node)
        const root = rootOf(placeholder)
        const hasDefault = node.value.filters.some((f) => f.name === 'default')
        if (hasDefault || inSection || root === undefined || !globals.has(root)) return
        if (placeholder === root && ctx.workspaceFallbacks[root] !== undefined) return
        problems.push({
          level: 'warning',
          code: 'no-fallback',
          part,
          line: node.token.getPosition()[0] ?? null,
          message: `{{ ${placeholder} }} has no fallback: add | default: "…" or put it in a {% section %} with a fallback`,
        })
      } else if ('args' in node && (node as { name?: string }).name === 'connected_content') {
        const args = (node as { args: { timeoutMs?: number; url: string } }).args
        if (args.timeoutMs !== undefined) return
        const token = (node as { token?: { getPosition(): [number, number] } }).token
        problems.push({
          level: 'warning',
          code: 'source-without-timeout',
          part,
          line: token?.getPosition()[0] ?? null,
          message: `connected_content ${args.url} has no :timeout; it gets the default and the render deadline`,
        })
      }
    })
  }
  return problems
}
