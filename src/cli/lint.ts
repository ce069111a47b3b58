/**
 * `inkstream lint <file.mjml|file.html|template-id>… [--url URL]` — template lint from the terminal,
 * done by the running server (server-api.ts), which knows the workspace's blocks, computed traits and
 * fallbacks: a file with front matter (as in INKSTREAM_TEMPLATES_DIR) goes to POST /v1/lint, anything
 * else is a stored template's latest version (GET /v1/templates/:id/lint).
 * Exit code 1 when there are errors, 0 otherwise (warnings are printed).
 */
import { existsSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { Config } from '../config.ts'
import type { LintProblem } from '../content/lint.ts'
import { parseTemplateFile } from '../content/template-files.ts'
import { InkError } from '../core/errors.ts'
import { type ApiAnswer, answerError, serverApi } from './server-api.ts'

export function formatProblems(name: string, problems: readonly LintProblem[]): string {
  if (problems.length === 0) return `${name}: no problems`
  return problems
    .map(
      (p) => `${name}: ${p.part}${p.line === null ? '' : `:${p.line}`}: ${p.level} ${p.code}: ${p.message}`,
    )
    .join('\n')
}

const problemsOf = (a: ApiAnswer): LintProblem[] | undefined =>
  a.status === 200 && Array.isArray(a.body.problems) ? (a.body.problems as LintProblem[]) : undefined

export async function lint(config: Config, args: string[], adminKey: string | undefined): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { url: { type: 'string' } },
  })
  if (positionals.length === 0)
    throw new InkError('INK_ERR_BAD_REQUEST', 'usage: inkstream lint <file.mjml|file.html|template-id>…')
  const api = serverApi(config, values.url, adminKey)
  let errors = 0
  for (const arg of positionals) {
    let answer: ApiAnswer
    if (existsSync(arg)) {
      const fileProblems: string[] = []
      const input = parseTemplateFile(arg, readFileSync(arg, 'utf8'), fileProblems)
      if (!input) {
        process.stdout.write(`${fileProblems.join('\n')}\n`)
        errors++
        continue
      }
      const { format, body, ...rest } = input
      answer = await api.call('POST', '/v1/lint', { ...rest, [format]: body })
    } else {
      answer = await api.call('GET', `/v1/templates/${encodeURIComponent(arg)}/lint`)
      if (answer.status === 404)
        throw new InkError(
          'INK_ERR_NOT_FOUND',
          `"${arg}" is neither a file nor a template stored on the server at ${api.server}`,
        )
    }
    const problems = problemsOf(answer)
    if (problems === undefined) {
      process.stderr.write(`${arg}: ${answerError(answer)}\n`)
      errors++
      continue
    }
    errors += problems.filter((p) => p.level === 'error').length
    process.stdout.write(`${formatProblems(arg, problems)}\n`)
  }
  return errors > 0 ? 1 : 0
}
