/**
 * Open-time metrics beyond the shared render histogram (which gets modes open-time-png|gif|json|view):
 * block-cache lookups by layer (png, gif, fallback, img, and set for failed writes) and result (hit,
 * miss, error, timeout).
 */
import { Counter } from 'prom-client'
import type { Metrics } from '../observe/metrics.ts'

export function openTimeCacheCounter(metrics: Metrics): Counter<'layer' | 'result'> {
  const name = 'inkstream_open_time_cache_total'
  const existing = metrics.registry.getSingleMetric(name)
  if (existing instanceof Counter) return existing as Counter<'layer' | 'result'>
  return new Counter({
    name,
    help: 'Open-time block cache lookups by layer (png, gif, fallback, img: fetched remote images; set: writes) and result (hit, miss, error, timeout).',
    labelNames: ['layer', 'result'],
    registers: [metrics.registry],
  })
}
