/**
 * One call's deadline: its own timeoutMs and the caller's signal (the render deadline) folded into
 * one AbortSignal whose reason says which of the two fired.
 */

/** Abort reason when the call's own timeoutMs elapsed. */
export class CallTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`)
    this.name = 'CallTimedOut'
  }
}

/** Abort reason when the caller's signal fired (the render's deadline passed or it was cancelled). */
export class CallerAborted extends Error {
  constructor() {
    super('the render deadline passed first')
    this.name = 'CallerAborted'
  }
}

export interface Deadline {
  signal: AbortSignal
  /** Clears the timer and the listener on the caller's signal. */
  dispose(): void
}

/** `reportMs` is the timeout named in the message (the call's own, when part of it was already spent). */
export function startDeadline(timeoutMs: number, callerSignal?: AbortSignal, reportMs = timeoutMs): Deadline {
  const controller = new AbortController()
  const onCallerAbort = () => controller.abort(new CallerAborted())
  const ms = Number.isFinite(timeoutMs) ? Math.max(0, timeoutMs) : 0
  const timer = setTimeout(() => controller.abort(new CallTimedOut(reportMs)), ms)
  if (callerSignal?.aborted) onCallerAbort()
  else callerSignal?.addEventListener('abort', onCallerAbort, { once: true })
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer)
      callerSignal?.removeEventListener('abort', onCallerAbort)
    },
  }
}

/**
 * Settles with the promise, or rejects with the signal's reason if it aborts first (after calling
 * `onAbort`, which may give up on the work behind the promise).
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, onAbort?: () => void): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const aborted = () => {
      onAbort?.()
      reject(signal.reason)
    }
    signal.addEventListener('abort', aborted, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', aborted)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', aborted)
        reject(err)
      },
    )
  })
}
