/**
 * Debian's nginx in front of a test app, configured by the file the repository ships
 * (deploy/nginx/inkstream.conf) with only its three marked values replaced: the cache directory,
 * the upstream address and the listen port. Runs in the foreground of a child process, with its
 * own prefix, pid file, logs and cache in a temporary directory.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { tempDir } from './app.ts'
import { closedPort } from './ports.ts'
import { missingService } from './services.ts'

export const NGINX = '/usr/sbin/nginx'
export const SHIPPED_CONFIG = new URL('../../deploy/nginx/inkstream.conf', import.meta.url)

/** The skip reason for a describe that needs nginx (a failure under INKSTREAM_REQUIRE_SERVICES=1). */
export const nginxMissing = () =>
  missingService('nginx', existsSync(NGINX), `${NGINX} not found (apt-get install nginx-light)`)

export interface Edge {
  url: string
  /** nginx's error log so far, for assertion messages. */
  errors(): string
  close(): Promise<void>
}

/** Replaces `pattern` in the shipped config, which must match exactly once (else the file changed). */
function replaceOnce(text: string, pattern: RegExp, by: string): string {
  const matches = text.match(new RegExp(pattern.source, 'g')) ?? []
  if (matches.length !== 1)
    throw new Error(`deploy/nginx/inkstream.conf: expected one ${pattern}, found ${matches.length}`)
  return text.replace(pattern, by)
}

/** Where the shipped file keeps its cache (nginx creates this directory; its parent must exist). */
export function shippedCachePath(): string {
  const m = /proxy_cache_path (\S+) /.exec(readFileSync(SHIPPED_CONFIG, 'utf8'))
  if (m?.[1] === undefined) throw new Error('deploy/nginx/inkstream.conf: no proxy_cache_path')
  return m[1]
}

/**
 * Writes `<dir>/nginx.conf`: a minimal main config (foreground, own pid, logs and temp paths, so
 * nothing outside `dir` is touched) that includes the shipped file with its three marked values
 * replaced. Returns the main config's path (for `nginx -t` and for running it).
 */
export function writeEdgeConfig(dir: string, upstreamPort: number, port: number): string {
  let site = readFileSync(SHIPPED_CONFIG, 'utf8')
  site = replaceOnce(
    site,
    new RegExp(`proxy_cache_path ${reEscape(shippedCachePath())} `),
    `proxy_cache_path ${dir}/cache `,
  )
  site = replaceOnce(site, /server 127\.0\.0\.1:3000;/, `server 127.0.0.1:${upstreamPort};`)
  site = replaceOnce(site, /listen 8080;/, `listen 127.0.0.1:${port};`)
  writeFileSync(join(dir, 'inkstream.conf'), site)
  mkdirSync(join(dir, 'logs'), { recursive: true })
  // Started as root, nginx's workers run as `nobody`: they must be able to enter the directory
  // (mkdtemp makes it 0700) to reach the cache and temp directories the master creates for them.
  chmodSync(dir, 0o755)
  const main = join(dir, 'nginx.conf')
  writeFileSync(
    main,
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/logs/error.log warn;`,
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${dir}/${k};`),
      `  include ${dir}/inkstream.conf;`,
      '}',
      '',
    ].join('\n'),
  )
  return main
}

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

export async function startEdge(upstreamPort: number): Promise<Edge> {
  const dir = tempDir('inkstream-nginx-')
  const port = await closedPort()
  const main = writeEdgeConfig(dir, upstreamPort, port)
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', main], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const errors = () => {
    const log = join(dir, 'logs/error.log')
    return stderr + (existsSync(log) ? readFileSync(log, 'utf8') : '')
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const deadline = Date.now() + 10_000
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (up) break
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`nginx did not start: ${errors()}`)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  return {
    url: `http://127.0.0.1:${port}`,
    errors,
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
