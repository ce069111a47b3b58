/**
 * The fonts open-time images are laid out with: Inter 400 and 700 from the @fontsource/inter npm
 * package. satori reads woff (not woff2), so the .woff files are used. Read from disk once, on
 * first use; nothing is downloaded.
 *
 * Besides latin, the latin-ext, cyrillic and greek subsets are loaded, each under its own family
 * name: satori falls back from font to font for a glyph the first one lacks, but only across
 * distinct names (same-name subsets are never consulted). Scripts Inter does not cover (CJK, emoji…)
 * draw satori's missing-glyph box.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { Font } from 'satori'

export const FONT_FAMILY = 'Inter'

/** @fontsource subset → the family name satori knows it by. */
const SUBSETS = [
  ['latin', FONT_FAMILY],
  ['latin-ext', 'Inter Latin Ext'],
  ['cyrillic', 'Inter Cyrillic'],
  ['greek', 'Inter Greek'],
] as const

let loading: Promise<Font[]> | undefined

function fontPath(subset: string, weight: 400 | 700): string {
  // The package exports its files/ folder, so node's resolver finds them wherever it is installed.
  return createRequire(import.meta.url).resolve(
    `@fontsource/inter/files/inter-${subset}-${weight}-normal.woff`,
  )
}

/**
 * Inter 400 and 700 (latin first), loaded lazily and once per process; the same array every call,
 * which satori keys its parsed-font cache on. A failed load is retried on the next call.
 */
export function interFonts(): Promise<Font[]> {
  if (!loading) {
    loading = Promise.all(
      SUBSETS.flatMap(([subset, name]) =>
        ([400, 700] as const).map(async (weight) => ({
          name,
          data: await readFile(fontPath(subset, weight)),
          weight,
          style: 'normal' as const,
        })),
      ),
    )
    loading.catch(() => {
      loading = undefined
    })
  }
  return loading
}

/** A box of `width`×`height` px with `text` centred in it, in Inter; `style` adds to (or overrides) that. */
export function centredText(
  text: string,
  width: number,
  height: number,
  style: Record<string, string | number>,
): { type: 'div'; props: { style: Record<string, string | number>; children: string } } {
  return {
    type: 'div',
    props: {
      style: {
        display: 'flex',
        alignItems: 'center',
        justifyContent: 'center',
        width: `${width}px`,
        height: `${height}px`,
        fontFamily: FONT_FAMILY,
        overflow: 'hidden',
        ...style,
      },
      children: text,
    },
  }
}
