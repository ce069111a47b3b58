/**
 * Bench scripts run as children that print one JSON line (bench/processor-drain.ts,
 * bench/bare-commit.ts): running them, and the core use such a child measures of itself over the
 * part it times (setup such as building events or a store copy is left out).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { type CpuUse, ROOT, round } from './children.ts'

/** `BENCH_CPU_PROF=dir`: the child writes a V8 CPU profile there, as the servers do. */
export function runJsonChild<T>(script: string, args: readonly (string | number)[]): Promise<T> {
  const prof = process.env.BENCH_CPU_PROF
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []),
        '--import',
        'tsx',
        script,
        ...args.map(String),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as T)
        : reject(new Error(`${script} ${args.join(' ')} exited ${code}`)),
    )
  })
}

/** CPU seconds the whole machine has used (/proc/stat: all but idle and iowait); undefined off Linux. */
function machineCpuSeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
    // USER_HZ is 100 on every Linux this runs on.
    return (user! + nice! + system! + irq! + softirq! + steal!) / 100
  } catch {
    return undefined
  }
}

/** This process's cores and everyone else's between the call and calling the returned function. */
export function selfCpuMeter(): () => CpuUse {
  const t0 = performance.now()
  const machine0 = machineCpuSeconds()
  const self0 = process.cpuUsage()
  return () => {
    const seconds = (performance.now() - t0) / 1000
    const machine1 = machineCpuSeconds()
    const self = process.cpuUsage(self0)
    const own = (self.user + self.system) / 1e6
    return {
      serverCores: round(own / seconds, 2),
      serverCpuWaitShare: null,
      loadGenCores: 0,
      otherCores:
        machine0 === undefined || machine1 === undefined
          ? null
          : round(Math.max(0, machine1 - machine0 - own) / seconds, 2),
    }
  }
}
