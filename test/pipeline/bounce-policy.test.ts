/** The bounce policy's settings: the per-workspace overrides and their config keys. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import {
  bouncePolicies,
  bouncePolicySettings,
  DEFAULT_BOUNCE_POLICY,
  parseBouncePolicyOverrides,
} from '../../src/pipeline/bounce-policy.ts'

const DAY = 86_400_000

test('overrides are workspace:softLimit:windowDays entries', () => {
  assert.deepEqual(parseBouncePolicyOverrides(' shop-eu:5:14, shop-us:1:0.5 ,'), {
    ok: true,
    overrides: [
      ['shop-eu', { softLimit: 5, softWindowMs: 14 * DAY }],
      ['shop-us', { softLimit: 1, softWindowMs: DAY / 2 }],
    ],
  })
})

test('every bad override is reported at once', () => {
  const r = parseBouncePolicyOverrides('shop:0:14,Shop:3:14,x:3:400,shop-a:3:1,shop-a:2:1')
  assert.equal(r.ok, false)
  assert.equal(r.ok ? 0 : r.problems.length, 4)
})

test('the config has the defaults (3 in 30 days), the env variables and the overrides', () => {
  const defaults = bouncePolicySettings(loadConfig({}))
  assert.deepEqual(defaults, { defaults: DEFAULT_BOUNCE_POLICY, overrides: [] })
  const config = loadConfig({
    INKSTREAM_BOUNCE_SOFT_LIMIT: '4',
    INKSTREAM_BOUNCE_SOFT_WINDOW_DAYS: '7',
    INKSTREAM_BOUNCE_POLICY_WORKSPACES: 'shop-eu:1:2',
  })
  const policyOf = bouncePolicies(bouncePolicySettings(config))
  assert.deepEqual(policyOf('default'), { softLimit: 4, softWindowMs: 7 * DAY })
  assert.deepEqual(policyOf('shop-eu'), { softLimit: 1, softWindowMs: 2 * DAY })
  assert.throws(
    () => loadConfig({ INKSTREAM_BOUNCE_SOFT_LIMIT: '0', INKSTREAM_BOUNCE_POLICY_WORKSPACES: 'eu=5' }),
    (err: Error) =>
      /INKSTREAM_BOUNCE_SOFT_LIMIT/.test(err.message) &&
      /INKSTREAM_BOUNCE_POLICY_WORKSPACES/.test(err.message),
  )
})
