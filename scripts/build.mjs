#!/usr/bin/env node
/**
 * Compiles src/ to dist/ (same layout, `.ts` → `.js`), so `npm start` and every CLI command run
 * plain JavaScript instead of loading TypeScript through tsx (issue 14: start-up ≤ 1 s).
 *
 * Each file is transpiled alone by esbuild (the same transform tsx applies at run time, so the
 * output behaves as the tests see the sources); relative `.ts` imports are rewritten to `.js` and
 * every import stays external (no bundling: module URLs, `import.meta.url` and lazy `import()`s
 * keep their meaning). Files under src/ that are not TypeScript (e.g. ingest/sdk/inkstream.js) are
 * copied. src/ui/client/ is left out: it is browser code, bundled from its sources by ui/assets.ts.
 *
 * Plain JavaScript (no tsx needed) and a no-op when dist/ is up to date: `prepare` (npm ci),
 * `prestart`, test helpers and benches run it before they start dist/cli/main.js. Up to date means
 * the stamp (every input's path, size and mtime, this script, esbuild's version) is unchanged.
 * Files are replaced one by one through a rename, so a process running from dist/ never sees a
 * half-written file, and two builds at once write the same bytes.
 *
 * usage: node scripts/build.mjs [--force]
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SRC = join(ROOT, 'src')
const OUT = join(ROOT, 'dist')
const STAMP = join(OUT, '.build-stamp')
/** Browser code: bundled at run time by src/ui/assets.ts from these sources. */
const SKIP = join(SRC, 'ui', 'client')

/** Every file under src/ except the browser client, as paths relative to src/. */
function inputs(dir = SRC) {
  const files = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (path === SKIP) continue
    if (entry.isDirectory()) files.push(...inputs(path))
    else if (entry.isFile()) files.push(relative(SRC, path))
  }
  return files.sort()
}

function stampOf(files) {
  const hash = createHash('sha256')
  const esbuildVersion = createRequire(import.meta.url)('esbuild/package.json').version
  hash.update(`${esbuildVersion}\n${readFileSync(fileURLToPath(import.meta.url), 'utf8')}\n`)
  for (const file of files) {
    const st = statSync(join(SRC, file))
    hash.update(`${file}\0${st.size}\0${st.mtimeMs}\n`)
  }
  return hash.digest('hex')
}

function readOr(path, fallback) {
  try {
    return readFileSync(path)
  } catch {
    return fallback
  }
}

/** Writes through a temporary file and a rename, and only when the bytes differ. */
function put(path, body) {
  const old = readOr(path, undefined)
  if (old !== undefined && Buffer.compare(old, body) === 0) return
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, body)
  renameSync(tmp, path)
}

/** Files under dir, relative to it (empty when dir does not exist). */
function existing(dir) {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)))
  } catch {
    return []
  }
}

/** Keeps every import external; relative TypeScript imports point at the compiled `.js`. */
const externalize = {
  name: 'externalize',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined
      const local = args.path.startsWith('./') || args.path.startsWith('../')
      return { path: local ? args.path.replace(/\.tsx?$/, '.js') : args.path, external: true }
    })
  },
}

async function build({ force = false } = {}) {
  const files = inputs()
  const stamp = stampOf(files)
  if (!force && readOr(STAMP, Buffer.alloc(0)).toString() === stamp) return false
  const { build: esbuild } = await import('esbuild')
  const ts = files.filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.d.ts'))
  const result = await esbuild({
    absWorkingDir: ROOT,
    entryPoints: ts.map((f) => join(SRC, f)),
    outbase: SRC,
    outdir: OUT,
    bundle: true,
    plugins: [externalize],
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    write: false,
    logLevel: 'silent',
  })
  const wanted = new Set()
  for (const f of result.outputFiles) {
    wanted.add(relative(OUT, f.path))
    put(f.path, Buffer.from(f.contents))
  }
  for (const f of files) {
    if (ts.includes(f) || f.endsWith('.d.ts')) continue
    wanted.add(f)
    put(join(OUT, f), readFileSync(join(SRC, f)))
  }
  // A source that was deleted or renamed must not linger as a module dist/ can still import.
  for (const f of existing(OUT)) {
    if (!wanted.has(f) && f !== '.build-stamp' && !f.endsWith('.tmp')) rmSync(join(OUT, f))
  }
  put(STAMP, Buffer.from(stamp))
  return true
}

const started = performance.now()
build({ force: process.argv.includes('--force') }).then(
  (built) => {
    if (!built) return
    const ms = Math.round(performance.now() - started)
    process.stderr.write(`built ${relative(ROOT, OUT)}${sep} from ${relative(ROOT, SRC)}${sep} in ${ms} ms\n`)
  },
  (err) => {
    process.stderr.write(`build failed: ${err.message ?? err}\n`)
    process.exit(1)
  },
)
