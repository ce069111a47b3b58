/**
 * Turns a send-time render with live blocks into its two open-time-aware parts: the text part (each
 * block's marker replaced by its fallback text) and the AMP part (content/live/amp.ts), or says why
 * the message has no AMP part (base URL not https, document over the AMP size limit).
 */
import type { CompiledTemplate } from '../content/compile.ts'
import { type AmpSegment, buildAmpEmail, MAX_AMP_BYTES } from '../content/live/amp.ts'
import type { LiveLinks } from '../content/tags/live-tag.ts'

export interface AmpOutcome {
  included: boolean
  /** Size of the AMP document in bytes (0 when none was built). */
  bytes: number
  /** Why there is no AMP part. */
  reason?: string
}

export function ampPart(
  parts: { text: string },
  compiled: Pick<CompiledTemplate, 'live'>,
  links: LiveLinks,
): { text: string; amp?: string; outcome: AmpOutcome } {
  const pieces = links.marker === undefined ? [parts.text] : parts.text.split(links.marker)
  const segments: AmpSegment[] = []
  const text: string[] = []
  pieces.forEach((piece, i) => {
    // split() on a marker that surrounds each name: odd pieces are block names.
    if (i % 2 === 0) {
      text.push(piece)
      segments.push({ text: piece })
      return
    }
    const tag = compiled.live.get(piece)
    const fallbackText = links.texts?.get(piece) ?? ''
    text.push(fallbackText)
    if (tag) segments.push({ block: { def: tag.def, fallbackText } })
    else segments.push({ text: fallbackText })
  })
  const plain = text.join('')
  if (!/^https:\/\//i.test(links.baseUrl))
    return {
      text: plain,
      outcome: {
        included: false,
        bytes: 0,
        reason: `the open-time base URL ${links.baseUrl} is not https: AMP clients fetch https only`,
      },
    }
  const amp = buildAmpEmail(segments, links)
  const bytes = Buffer.byteLength(amp, 'utf8')
  if (bytes > MAX_AMP_BYTES)
    return {
      text: plain,
      outcome: {
        included: false,
        bytes,
        reason: `the AMP part would be ${bytes} bytes, over the ${MAX_AMP_BYTES}-byte AMP for Email limit`,
      },
    }
  return { text: plain, amp, outcome: { included: true, bytes } }
}
