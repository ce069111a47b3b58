/**
 * Open-time metrics beyond the shared render histogram (which gets modes open-time-png|gif|json|view):
 * block-cache lookups by layer (png, gif, fallback) and result (hit, miss, error).
 */
import { Counter } from 'prom-client'
import type { Metrics } from '../observe/metrics.ts'

export function openTimeCacheCounter(metrics: Metrics): Counter<'layer' | 'result'> {
  const name = 'inkstream_open_time_cache_total'
  const existing = metrics.registry.getSingleMetric(name)
  if (existing instanceof Counter) return existing as Counter<'layer' | 'result'>
  return new Counter({
    name,
    help: 'Open-time block cache lookups by layer (png, gif, fallback) and result (hit, miss, error).',
    labelNames: ['layer', 'result'],
    registers: [metrics.registry],
  })
}
