/**
 * `inkstream lint <file.mjml|file.html|template-id>…` — template lint from the terminal: a file with
 * front matter (as in INKSTREAM_TEMPLATES_DIR), or a stored template's latest version.
 * Exit code 1 when there are errors, 0 otherwise (warnings are printed).
 */
import { existsSync, readFileSync } from 'node:fs'
import { createApp } from '../app.ts'
import type { Config } from '../config.ts'
import { loadContentConfig } from '../content/content-config.ts'
import { type LintProblem, lintTemplate } from '../content/lint.ts'
import { parseTemplateFile } from '../content/template-files.ts'
import { type TemplateInput, versionInput } from '../content/template-store.ts'
import { InkError } from '../core/errors.ts'
import { loadTraitsConfig } from '../pipeline/traits-config.ts'

export function formatProblems(name: string, problems: readonly LintProblem[]): string {
  if (problems.length === 0) return `${name}: no problems`
  return problems
    .map(
      (p) => `${name}: ${p.part}${p.line === null ? '' : `:${p.line}`}: ${p.level} ${p.code}: ${p.message}`,
    )
    .join('\n')
}

export async function lint(config: Config, args: string[]): Promise<number> {
  if (args.length === 0)
    throw new InkError('INK_ERR_BAD_REQUEST', 'usage: inkstream lint <file.mjml|file.html|template-id>…')
  const app = await createApp({ ...config, logLevel: 'warn' }, { env: process.env, processor: false })
  try {
    const ctx = {
      engine: await app.renderer.engine(app.workspace.id),
      traitNames: loadTraitsConfig(config.traitsFile).traits.map((t) => t.name),
      workspaceFallbacks: loadContentConfig(config.contentFile, process.env).fallbacks,
    }
    let errors = 0
    for (const arg of args) {
      let input: TemplateInput | undefined
      if (existsSync(arg)) {
        const problems: string[] = []
        input = parseTemplateFile(arg, readFileSync(arg, 'utf8'), problems)
        if (!input) {
          process.stdout.write(`${problems.join('\n')}\n`)
          errors++
          continue
        }
      } else {
        const v = await app.renderer.templateVersion(app.workspace.id, arg)
        if (!v) throw new InkError('INK_ERR_NOT_FOUND', `"${arg}" is neither a file nor a stored template`)
        input = versionInput(v)
      }
      const problems = await lintTemplate(input, ctx)
      errors += problems.filter((p) => p.level === 'error').length
      process.stdout.write(`${formatProblems(arg, problems)}\n`)
    }
    return errors > 0 ? 1 : 0
  } finally {
    await app.close()
  }
}
