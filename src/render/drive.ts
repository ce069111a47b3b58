/**
 * Runs a liquidjs render generator at the speed of its synchronous driver, awaiting only what is
 * really asynchronous. liquidjs's own `toPromise` turns every nested generator into an async
 * function call and awaits every step, about ten times slower than `toValueSync`; this driver walks
 * nested generators on an explicit stack and awaits only promises: a source fetched mid-render, or
 * the pause a long render takes each RENDER_SLICE_MS to let the event loop serve other requests.
 */

type Gen = Generator<unknown, unknown, unknown>

const isIterator = (v: unknown): v is Gen =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as Gen).next === 'function' &&
  typeof (v as Gen).throw === 'function' &&
  typeof (v as Gen).return === 'function'

const isPromise = (v: unknown): v is PromiseLike<unknown> =>
  (typeof v === 'object' || typeof v === 'function') &&
  v !== null &&
  typeof (v as PromiseLike<unknown>).then === 'function'

/** The generator's result; nested generators run inline, yielded promises are awaited. */
export async function drive(root: unknown): Promise<unknown> {
  if (!isIterator(root)) return root
  const stack: Gen[] = [root]
  let value: unknown
  let throwing = false
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!
    let step: IteratorResult<unknown, unknown>
    try {
      step = throwing ? top.throw(value) : top.next(value)
      throwing = false
    } catch (err) {
      // The generator did not handle it: its caller gets the error.
      stack.pop()
      throwing = true
      value = err
      continue
    }
    if (step.done) {
      stack.pop()
      value = step.value
      continue
    }
    if (isIterator(step.value)) {
      stack.push(step.value)
      value = undefined
      continue
    }
    if (isPromise(step.value)) {
      try {
        value = await step.value
      } catch (err) {
        throwing = true
        value = err
      }
      continue
    }
    value = step.value
  }
  if (throwing) throw value
  return value
}
