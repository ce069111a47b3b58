/**
 * A worker thread that gives way to the HTTP event loop (issue 14: `/healthz` stays fast while the
 * render pool is saturated). Linux keeps a nice value per thread, and setpriority(2) with a thread
 * id changes that thread alone; os.setPriority passes its id argument through. Raising one's own
 * nice value needs no privilege (lowering it back would). Elsewhere, or where /proc is not mounted,
 * nothing changes.
 *
 * With the render workers at nice 10, when the cores are all busy the event loop (nice 0) gets about
 * nine tenths of a core it shares with one of them (CFS weights 1024 : 110); with idle cores the
 * workers run at full speed as before.
 */
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'

/** The nice value of the render pool's workers. */
export const RENDER_WORKER_NICE = 10

/** Sets this thread's nice value; the thread id it set, or undefined where it could not. */
export function niceThisThread(nice: number): number | undefined {
  if (process.platform !== 'linux') return undefined
  try {
    // "/proc/thread-self" → "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (!Number.isInteger(tid) || tid <= 0) return undefined
    setPriority(tid, nice)
    return tid
  } catch {
    return undefined
  }
}
