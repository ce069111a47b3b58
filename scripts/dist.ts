/**
 * The compiled CLI (dist/cli/main.js) for tests and benches that start `inkstream` as a child:
 * they run what `npm start` runs, not the sources through tsx. scripts/build.mjs is run first (a
 * no-op when dist/ is up to date with src/), so a test run after an edit never starts stale code.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** dist/cli/main.js, absolute. */
export const CLI_ENTRY = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))

let built = false

/** Brings dist/ up to date with src/ (once per process); throws the build's own message on failure. */
export function ensureBuilt(): void {
  if (built) return
  try {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '')
    throw new Error(`dist/ could not be built from src/ (node scripts/build.mjs): ${stderr || String(err)}`)
  }
  built = true
}

/** `node` arguments that run the compiled CLI with `args`, after ensureBuilt(). */
export function cliArgs(...args: string[]): string[] {
  ensureBuilt()
  return [CLI_ENTRY, ...args]
}
