/**
 * The servers under test, each in its own child process so the load generator (this process)
 * never shares an event loop with them: Inkstream via its CLI, and the bare node:http baseline.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cliArgs } from '../../scripts/dist.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 10_000

export interface ServerUnderTest {
  name: 'inkstream' | 'bare node:http'
  url: string
  pid: number
  /** The workspace write key; the bare server accepts any. */
  writeKey: string
  /** The workspace admin key (Inkstream only). */
  adminKey?: string
  /** Its INKSTREAM_DATA_DIR (Inkstream only): e.g. the open-time bench reads the link-signing keys. */
  dataDir?: string
  stop(): Promise<void>
}

/** `BENCH_CPU_PROF=dir` writes a V8 CPU profile of each Inkstream child into dir when it stops. */
/** Children still running and data dirs not yet removed, for when the bench is interrupted. */
const live = new Set<ChildProcess>()
const dirs = new Set<string>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const profileArgs = (): string[] => {
  const dir = process.env.BENCH_CPU_PROF
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : []
}

/**
 * Starts `inkstream start` on a fresh temporary data dir and a random port. INKSTREAM_* variables
 * of the calling shell are passed through (to try other settings); port, data dir and log level are set here.
 */
export async function startInkstream(
  env: Record<string, string> = {},
  /** Arguments after `start`, e.g. ['--role', 'processor']. */
  args: string[] = [],
): Promise<ServerUnderTest> {
  const dataDir = mkdtempSync(join(tmpdir(), 'inkstream-bench-'))
  dirs.add(dataDir)
  // The compiled CLI, as `npm start` runs it (dist/ is brought up to date first).
  const child = spawn(process.execPath, [...profileArgs(), ...cliArgs('start', ...args)], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env,
      INKSTREAM_PORT: '0',
      INKSTREAM_DATA_DIR: dataDir,
      INKSTREAM_LOG_LEVEL: env.INKSTREAM_LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  try {
    const out = await waitForOutput(
      child,
      /Inkstream (?:\([^)]*\) )?is running at (http:\/\/\S+)\n[\s\S]*write key: (\S+)\n\s*admin key: (\S+)\n/,
    )
    return {
      name: 'inkstream',
      url: out[1]!,
      writeKey: out[2]!,
      adminKey: out[3]!,
      dataDir,
      pid: child.pid!,
      stop: async () => {
        await stopChild(child)
        rmSync(dataDir, { recursive: true, force: true })
        dirs.delete(dataDir)
      },
    }
  } catch (err) {
    child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
    throw err
  }
}

/** Starts bench/bare-server.ts: reads each body and answers 200 {"success":true}. */
export async function startBare(): Promise<ServerUnderTest> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-server.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  try {
    const out = await waitForOutput(child, /listening at (http:\/\/\S+)\n/)
    return {
      name: 'bare node:http',
      url: out[1]!,
      writeKey: 'wk_bare_server_key',
      pid: child.pid!,
      stop: () => stopChild(child),
    }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}

function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  live.add(child)
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    const fail = (why: string) => {
      clearTimeout(timer)
      reject(new Error(`${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`))
    }
    const timer = setTimeout(
      () => fail(`server did not start within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    )
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      // Warnings and errors after start-up belong on our stderr, not in a buffer nobody reads.
      process.stderr.write(chunk)
    })
    let started = false
    child.stdout?.on('data', (chunk: Buffer) => {
      // After start-up the server only logs (warn and above): pass that on.
      if (started) {
        const text = chunk.toString().replace(/^SIG\w+: shutting down\n/m, '')
        if (text !== '') process.stderr.write(text)
        return
      }
      stdout += chunk.toString()
      const m = pattern.exec(stdout)
      if (m) {
        started = true
        clearTimeout(timer)
        resolve(m)
      }
    })
    child.once('exit', (code, signal) => fail(`server exited early (code ${code}, signal ${signal})`))
  })
}

async function stopChild(child: ChildProcess): Promise<void> {
  live.delete(child)
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

let clockTicks: number | undefined
/** CPU seconds (user + system) a process has used so far, from /proc; undefined off Linux. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesised command name start at field 3 (state); utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
    return (Number(fields[11]) + Number(fields[12])) / clockTicks
  } catch {
    return undefined
  }
}

/**
 * CPU seconds (user + system) this process's children used so far: those that exited and were
 * waited for (cutime + cstime of /proc/self/stat); undefined off Linux. For children too short-lived
 * to read their own /proc entry (a CLI command).
 */
export function childrenCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
    return (Number(fields[13]) + Number(fields[14])) / clockTicks
  } catch {
    return undefined
  }
}

/** CPU seconds all processes on the machine have used so far (/proc/stat, all but idle and iowait). */
export function machineCpuSeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
    return (user! + nice! + system! + irq! + softirq! + steal!) / clockTicks
  } catch {
    return undefined
  }
}

/** [ns on a CPU, ns runnable but waiting for a CPU] of a process's main thread (/proc/<pid>/schedstat). */
function schedstat(pid: number): [number, number] | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number)
    return [run!, wait!]
  } catch {
    return undefined
  }
}

export interface CpuUse {
  /** Average cores the server under test used. */
  serverCores: number | null
  /**
   * Share of the time the server's main (event-loop) thread was ready to run but waiting for a
   * CPU: time taken by the load generator and by anything else running on the machine.
   */
  serverCpuWaitShare: number | null
  /** Average cores this process (the load generator) used. */
  loadGenCores: number
  /** Average cores everything else on the machine used: other people's work skews the figures. */
  otherCores: number | null
}

/** Measures average core use between the call and calling the returned function. */
export function cpuMeter(pid: number): () => CpuUse {
  const t0 = performance.now()
  const server0 = cpuSeconds(pid)
  const machine0 = machineCpuSeconds()
  const self0 = process.cpuUsage()
  const sched0 = schedstat(pid)
  return () => {
    const seconds = (performance.now() - t0) / 1000
    const server1 = cpuSeconds(pid)
    const machine1 = machineCpuSeconds()
    const self = process.cpuUsage(self0)
    const sched1 = schedstat(pid)
    const loadGen = (self.user + self.system) / 1e6
    const server = server0 === undefined || server1 === undefined ? undefined : server1 - server0
    const machine = machine0 === undefined || machine1 === undefined ? undefined : machine1 - machine0
    return {
      serverCores: server === undefined ? null : round(server / seconds, 2),
      serverCpuWaitShare: sched0 && sched1 ? round((sched1[1] - sched0[1]) / 1e9 / seconds, 2) : null,
      loadGenCores: round(loadGen / seconds, 2),
      otherCores:
        server === undefined || machine === undefined
          ? null
          : round(Math.max(0, machine - server - loadGen) / seconds, 2),
    }
  }
}

export const round = (n: number, digits = 0): number => {
  const f = 10 ** digits
  return Math.round(n * f) / f
}
