/**
 * `inkstream lint <file.mjml|file.html|template-id>… [--url URL]` — template lint from the terminal.
 * A file with front matter (as in INKSTREAM_TEMPLATES_DIR) is checked here, with no server and no
 * store, so CI can lint templates before they are deployed: blocks come from
 * INKSTREAM_TEMPLATES_DIR/blocks, trait names and fallbacks from the traits and content files. With
 * --url or INKSTREAM_URL, files go to that server instead (POST /v1/lint: the workspace's stored blocks).
 * Anything that is not a file is a stored template's latest version, checked by the running server
 * (GET /v1/templates/:id/lint, server-api.ts).
 * Exit code 1 when there are errors, 0 otherwise (warnings are printed).
 */
import { existsSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { Config } from '../config.ts'
import { loadContentConfig } from '../content/content-config.ts'
import { type LintContext, type LintProblem, lintTemplate } from '../content/lint.ts'
import { createEngine } from '../content/liquid-engine.ts'
import { parseTemplateFile, readBlocksDir } from '../content/template-files.ts'
import { InkError } from '../core/errors.ts'
import { loadTraitsConfig } from '../traits/traits-config.ts'
import { type LintAnswerProblem, lintProblems } from './answers.ts'
import { type AdminKeyLookup, type ApiAnswer, answerError, type ServerApi, serverApi } from './server-api.ts'

export function formatProblems(name: string, problems: readonly (LintProblem | LintAnswerProblem)[]): string {
  if (problems.length === 0) return `${name}: no problems`
  return problems
    .map(
      (p) => `${name}: ${p.part}${p.line === null ? '' : `:${p.line}`}: ${p.level} ${p.code}: ${p.message}`,
    )
    .join('\n')
}

/** What a local lint knows: the files' blocks, trait names and fallbacks; it never renders or fetches. */
function localContext(config: Config): LintContext {
  return {
    engine: createEngine({
      blocks: config.templatesDir === undefined ? {} : readBlocksDir(config.templatesDir),
      connectedContent: {
        fetch: () => Promise.reject(new Error('lint does not call connected content')),
        close: async () => {},
      },
    }),
    traitNames: loadTraitsConfig(config.traitsFile).traits.map((t) => t.name),
    workspaceFallbacks: loadContentConfig(config.contentFile, process.env).fallbacks,
  }
}

export async function lint(config: Config, args: string[], adminKey: AdminKeyLookup): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { url: { type: 'string' } },
  })
  if (positionals.length === 0)
    throw new InkError('INK_ERR_BAD_REQUEST', 'usage: inkstream lint <file.mjml|file.html|template-id>…')
  // The server is asked only when needed: files are linted here unless a URL names a server.
  const useServerForFiles = values.url !== undefined || config.url !== undefined
  let api: ServerApi | undefined
  const server = async () => {
    api ??= serverApi(config, values.url, await adminKey())
    return api
  }
  let local: LintContext | undefined
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
      if (!useServerForFiles) {
        local ??= localContext(config)
        const problems = await lintTemplate(input, local)
        errors += problems.filter((p) => p.level === 'error').length
        process.stdout.write(`${formatProblems(arg, problems)}\n`)
        continue
      }
      const { format, body, ...rest } = input
      answer = await (await server()).call('POST', '/v1/lint', { ...rest, [format]: body })
    } else {
      answer = await (await server()).call('GET', `/v1/templates/${encodeURIComponent(arg)}/lint`)
      if (answer.status === 404)
        throw new InkError(
          'INK_ERR_NOT_FOUND',
          `"${arg}" is neither a file nor a template stored on the server at ${(await server()).server}`,
        )
    }
    const problems = lintProblems(answer, (await server()).server)
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
