import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { InkError } from '../../src/core/errors.ts'
import { ArmedFailpoints, noFailpoints, parseFailpoints } from '../../src/core/failpoints.ts'

describe('failpoints', () => {
  test('INKSTREAM_FAILPOINTS is validated by the config: unknown names and actions are listed', () => {
    assert.equal(
      loadConfig({ INKSTREAM_FAILPOINTS: 'processor.after-commit=kill' }).failpoints,
      'processor.after-commit=kill',
    )
    assert.throws(
      () =>
        loadConfig({ INKSTREAM_FAILPOINTS: 'processor.aftr-commit=kill,log.append.after-commit=explode' }),
      (err: unknown) =>
        err instanceof InkError &&
        /unknown failpoint "processor.aftr-commit"/.test(err.message) &&
        /action "explode"/.test(err.message),
    )
  })

  test('an armed point throws or hangs at its hit, a disarmed one does nothing', async () => {
    const fp = parseFailpoints('processor.before-commit=throw,log.append.after-commit=hang')
    assert.throws(() => fp.hit('processor.before-commit'), /failpoint processor.before-commit/)
    const hung = fp.hit('log.append.after-commit')
    assert.ok(hung instanceof Promise)
    const raced = await Promise.race([hung, new Promise((r) => setImmediate(() => r('still pending')))])
    assert.equal(raced, 'still pending')
    assert.equal(fp.hit('ledger.after-claim'), undefined)
    assert.equal(parseFailpoints(undefined), noFailpoints)
    const armed = new ArmedFailpoints({ 'ledger.after-claim': 'throw' })
    armed.disarm('ledger.after-claim')
    assert.equal(armed.hit('ledger.after-claim'), undefined)
    assert.equal(armed.toSpec(), '')
  })
})
