/** Plain-data helpers every layer may use (core knows nothing above it). */
import type { JsonObject } from './types.ts'

export const isPlainObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
