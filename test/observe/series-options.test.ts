import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { seriesDetectorOptions } from '../../src/observe/alerts/series-options.ts'
import { createDetector, type DetectorOptions } from '../../src/observe/anomaly/detector.ts'

const MIN = 60_000

/** Pushes `steady` for 200 minutes, then `probe`: whether the detector calls the probe an anomaly. */
function flags(opts: DetectorOptions, steady: number, probe: number): boolean {
  const d = createDetector(opts)
  for (let i = 0; i < 200; i++) assert.equal(d.push(i * MIN, steady).anomaly, false, `steady point ${i}`)
  return d.push(200 * MIN, probe).anomaly
}

describe('seriesDetectorOptions', () => {
  it('send failures at a constant 0: one failure in 250 sends is noise, a third failing is not', () => {
    const o = seriesDetectorOptions('send_failure_rate')
    // Without a floor the MAD of a constant 0 is 0: the first failed send would page someone.
    assert.equal(flags({}, 0, 0.004), true)
    assert.equal(flags(o, 0, 0.004), false)
    assert.equal(flags(o, 0, 0.3), true)
    // Only a rise is bad news.
    assert.equal(flags(o, 0.3, 0), false)
    assert.equal(flags(seriesDetectorOptions('fallback_rate'), 0, 0.3), true)
  })

  it('a connected-content success ratio at 1: a fall to 0.5 alerts, a rise never does', () => {
    const o = seriesDetectorOptions('cc_success_ratio:api.example.com')
    assert.equal(flags(o, 1, 0.99), false)
    assert.equal(flags(o, 1, 0.5), true)
    assert.equal(flags(o, 0.5, 1), false)
  })

  it('p95s in seconds: a rise of a millisecond is noise, a rise of 200 ms is not; a fall is fine', () => {
    const o = seriesDetectorOptions('pipeline_lag_p95')
    assert.equal(flags(o, 0.01, 0.011), false)
    assert.equal(flags(o, 0.01, 0.21), true)
    assert.equal(flags(o, 0.21, 0.01), false)
    assert.deepEqual(seriesDetectorOptions('render_p95'), o)
  })

  it('per-minute counts: both directions, a floor of one event', () => {
    const o = seriesDetectorOptions('ingest_rate')
    assert.equal(flags(o, 0, 1), false)
    assert.equal(flags(o, 100, 0), true)
    assert.equal(flags(o, 100, 1000), true)
  })
})
