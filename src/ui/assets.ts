/**
 * The dashboard's assets, bundled in memory by esbuild from src/ui/client/ the first time they are
 * asked for (not at start-up: every test app would pay for it): no build step beyond `npm ci`, nothing fetched at run time,
 * and never stale after a `git pull`. Every file name carries its content hash, so files are served
 * `immutable`; the shell page (ui-routes.ts) names the current ones.
 */
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The client's sources, from the package root: this file also runs compiled from dist/ui/, and
 * scripts/build.mjs does not copy the browser code there (it is bundled from src/ here).
 */
const CLIENT_DIR = fileURLToPath(new URL('../../src/ui/client', import.meta.url))
const OUT_DIR = join(CLIENT_DIR, '..', '.out')

export interface Asset {
  body: Buffer
  contentType: string
}

export interface Bundle {
  /** File name (no directory) → content. */
  files: Map<string, Asset>
  /** The file names the shell page loads. */
  entry: { script: string; style: string | undefined }
}

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  woff2: 'font/woff2',
  woff: 'font/woff',
  svg: 'image/svg+xml',
  png: 'image/png',
  map: 'application/json; charset=utf-8',
}

async function bundle(): Promise<Bundle> {
  // esbuild is loaded with the first request for the dashboard, not at start-up.
  const { build } = await import('esbuild')
  const result = await build({
    entryPoints: { main: join(CLIENT_DIR, 'main.tsx') },
    absWorkingDir: CLIENT_DIR,
    bundle: true,
    splitting: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    minify: true,
    write: false,
    metafile: true,
    outdir: OUT_DIR,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: '[name]-[hash]',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    loader: { '.woff2': 'file', '.woff': 'file', '.svg': 'file', '.png': 'file' },
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
    legalComments: 'none',
  })
  const files = new Map<string, Asset>()
  for (const f of result.outputFiles) {
    const name = relative(OUT_DIR, f.path)
    const ext = name.slice(name.lastIndexOf('.') + 1)
    files.set(name, { body: Buffer.from(f.contents), contentType: TYPES[ext] ?? 'application/octet-stream' })
  }
  let script = ''
  let style: string | undefined
  for (const [path, out] of Object.entries(result.metafile.outputs)) {
    // Pages imported on demand are entry points too; the shell loads main's (paths relative to CLIENT_DIR).
    if (out.entryPoint !== 'main.tsx') continue
    script = relative(OUT_DIR, join(CLIENT_DIR, path))
    if (out.cssBundle) style = relative(OUT_DIR, join(CLIENT_DIR, out.cssBundle))
  }
  if (!script) throw new Error('the dashboard bundle has no entry script')
  return { files, entry: { script, style } }
}

let pending: Promise<Bundle> | undefined

/** The bundle, built once per process. */
export function dashboardBundle(): Promise<Bundle> {
  if (!pending) {
    pending = bundle()
    // A failed build is retried on the next request (after a fix), not cached.
    pending.catch(() => {
      pending = undefined
    })
  }
  return pending
}
