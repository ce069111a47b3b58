/**
 * The fonts open-time images are laid out with: Inter 400 and 700 (latin) from the
 * @fontsource/inter npm package. satori reads woff (not woff2), so the .woff files are used.
 * Read from disk once, on first use; nothing is downloaded.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { Font } from 'satori'

export const FONT_FAMILY = 'Inter'

let loading: Promise<Font[]> | undefined

function fontPath(weight: 400 | 700): string {
  // The package exports its files/ folder, so node's resolver finds them wherever it is installed.
  return createRequire(import.meta.url).resolve(`@fontsource/inter/files/inter-latin-${weight}-normal.woff`)
}

/** Inter 400 and 700, loaded lazily and once per process. A failed load is retried next call. */
export function interFonts(): Promise<Font[]> {
  if (!loading) {
    loading = Promise.all(
      ([400, 700] as const).map(async (weight) => ({
        name: FONT_FAMILY,
        data: await readFile(fontPath(weight)),
        weight,
        style: 'normal' as const,
      })),
    )
    loading.catch(() => {
      loading = undefined
    })
  }
  return loading
}
