/**
 * Templates kept in git: a folder of `<id>.mjml` / `<id>.html` files with YAML front matter
 * (`subject`, optional `preheader`, `name`, `text`) and `blocks/<name>.liquid` partials. Loaded at
 * start (INKSTREAM_TEMPLATES_DIR); unchanged files do not make new versions. An invalid file stops
 * the start with every problem listed, as a bad config would.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { basename, extname, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { invalidConfig } from '../core/errors.ts'
import type { Renderer } from '../render/renderer.ts'
import type { TemplateInput, TemplateStore } from './template-store.ts'

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/

/** Parses one template file; `problems` collects what is wrong with it. */
export function parseTemplateFile(
  file: string,
  source: string,
  problems: string[],
): TemplateInput | undefined {
  const m = FRONT_MATTER.exec(source)
  if (!m) {
    problems.push(`${file}: needs YAML front matter with at least "subject:" between --- lines`)
    return undefined
  }
  let meta: unknown
  try {
    meta = parseYaml(m[1]!)
  } catch (err) {
    problems.push(
      `${file}: front matter (quote values that contain {{ }}): ${(err as Error).message.split('\n')[0]}`,
    )
    return undefined
  }
  const fm = (typeof meta === 'object' && meta !== null ? meta : {}) as Record<string, unknown>
  if (typeof fm.subject !== 'string' || fm.subject === '') {
    problems.push(`${file}: front matter needs a "subject"`)
    return undefined
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined)
  return {
    name: str(fm.name),
    subject: fm.subject,
    preheader: str(fm.preheader),
    text: str(fm.text),
    format: extname(file) === '.mjml' ? 'mjml' : 'html',
    body: source.slice(m[0].length),
  }
}

/** The blocks of a templates folder (`blocks/<name>.liquid`) by name; none when it has no blocks folder. */
export function readBlocksDir(dir: string): Record<string, string> {
  const blocksDir = join(dir, 'blocks')
  let files: string[] = []
  try {
    files = readdirSync(blocksDir).filter((f) => f.endsWith('.liquid'))
  } catch {
    // No blocks folder: fine.
  }
  return Object.fromEntries(
    files.map((f) => [basename(f, '.liquid'), readFileSync(join(blocksDir, f), 'utf8')]),
  )
}

export async function loadTemplatesDir(
  dir: string,
  workspaceId: string,
  store: TemplateStore,
  renderer: Renderer,
) {
  const problems: string[] = []
  for (const [name, source] of Object.entries(readBlocksDir(dir)))
    await store.putBlock(workspaceId, name, source)
  renderer.invalidate(workspaceId)
  const files = readdirSync(dir).filter((f) => f.endsWith('.mjml') || f.endsWith('.html'))
  const loaded: { id: string; input: TemplateInput }[] = []
  for (const f of files) {
    const input = parseTemplateFile(join(dir, f), readFileSync(join(dir, f), 'utf8'), problems)
    if (!input) continue
    const id = basename(f, extname(f))
    for (const p of await renderer.validate(workspaceId, input)) {
      problems.push(`${join(dir, f)}: ${p.part}${p.line === null ? '' : ` line ${p.line}`}: ${p.message}`)
    }
    loaded.push({ id, input })
  }
  if (problems.length > 0) throw invalidConfig(problems)
  for (const { id, input } of loaded) await store.saveVersion(workspaceId, id, input)
  return loaded.map((l) => l.id)
}
