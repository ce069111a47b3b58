/**
 * Failpoints: named hooks at the commit boundaries of the log, the processor and the send ledger,
 * which a test arms to throw, hang or kill the process at that exact step, so a crash test never
 * depends on a timer happening to land in the right place. Armed from INKSTREAM_FAILPOINTS
 * (`name=action[,name=action…]`, read once by the config) and passed in as a dependency; domain
 * code never reads the environment. Disarmed, a hit is one Map lookup.
 */
import { InkError } from './errors.ts'

export const FAILPOINT_NAMES = [
  /** Log append: the group is about to be committed (nothing durable yet). */
  'log.append.before-commit',
  /** Log append: the group is durable, its callers not yet answered. */
  'log.append.after-commit',
  /** Log consumer: the handler resolved, the group's offset is not yet committed. */
  'log.consume.before-offset-commit',
  /** Processor: starting, before it reads its applied offsets (a processor that cannot start). */
  'processor.start',
  /** Processor: a batch is folded, its transaction not yet committed. */
  'processor.before-commit',
  /** Processor: the batch's transaction committed, the log not yet told. */
  'processor.after-commit',
  /** Send ledger: a recipient was claimed (row in `sending`), the message not yet sent. */
  'ledger.after-claim',
  /** Send ledger: the message was handed to the transport, its outcome not yet recorded. */
  'ledger.before-record',
  /** Erasure: the store's transaction committed (audit `log: 'pending'`), the log's copies not yet deleted. */
  'privacy.after-erase',
] as const

export type FailpointName = (typeof FAILPOINT_NAMES)[number]
export type FailpointAction = 'throw' | 'hang' | 'kill'
const ACTIONS: readonly FailpointAction[] = ['throw', 'hang', 'kill']

export interface Failpoints {
  /**
   * Does what `name` is armed for: throws an Error, returns a promise that never settles, or
   * SIGKILLs the whole process (every thread); does nothing when it is not armed.
   */
  hit(name: FailpointName): undefined | Promise<never>
}

/** Disarmed: what production runs. */
export const noFailpoints: Failpoints = { hit: () => undefined }

/** Failpoints armed in process (tests): `arm` and `disarm` change them while code runs. */
export class ArmedFailpoints implements Failpoints {
  readonly #armed = new Map<FailpointName, FailpointAction>()
  /** Hits per armed name, so a test can wait for the step to be reached. */
  readonly hits = new Map<FailpointName, number>()

  constructor(armed: Partial<Record<FailpointName, FailpointAction>> = {}) {
    for (const [name, action] of Object.entries(armed)) this.arm(name as FailpointName, action)
  }

  arm(name: FailpointName, action: FailpointAction): void {
    this.#armed.set(name, action)
  }

  disarm(name: FailpointName): void {
    this.#armed.delete(name)
  }

  hit(name: FailpointName): undefined | Promise<never> {
    const action = this.#armed.get(name)
    if (action === undefined) return
    this.hits.set(name, (this.hits.get(name) ?? 0) + 1)
    if (action === 'kill') process.kill(process.pid, 'SIGKILL')
    if (action === 'hang') return new Promise<never>(() => {})
    throw new Error(`failpoint ${name}`)
  }

  /** The spec that arms the same points in another thread or process. */
  toSpec(): string {
    return [...this.#armed].map(([n, a]) => `${n}=${a}`).join(',')
  }
}

/** Problems in a spec (`name=action,…`), for the config's validation; empty when it is valid. */
export function failpointProblems(spec: string): string[] {
  const problems: string[] = []
  for (const part of spec.split(',')) {
    if (part.trim() === '') continue
    const [name, action] = part.split('=').map((s) => s.trim())
    if (!FAILPOINT_NAMES.includes(name as FailpointName))
      problems.push(`unknown failpoint "${name}" (known: ${FAILPOINT_NAMES.join(', ')})`)
    if (!ACTIONS.includes(action as FailpointAction))
      problems.push(`failpoint action "${action}" is not one of ${ACTIONS.join(', ')}`)
  }
  return problems
}

/** Failpoints from a spec; disarmed for an empty or absent one. */
export function parseFailpoints(spec: string | undefined): Failpoints {
  if (spec === undefined || spec.trim() === '') return noFailpoints
  const problems = failpointProblems(spec)
  if (problems.length > 0)
    throw new InkError('INK_ERR_INVALID_CONFIG', `INKSTREAM_FAILPOINTS: ${problems.join('; ')}`)
  const armed = new ArmedFailpoints()
  for (const part of spec.split(',')) {
    if (part.trim() === '') continue
    const [name, action] = part.split('=').map((s) => s.trim())
    armed.arm(name as FailpointName, action as FailpointAction)
  }
  return armed
}
