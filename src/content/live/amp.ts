/**
 * The AMP for Email part of a message with live blocks (`text/x-amp-html`): the message's text as
 * paragraphs, each live block at its place as an `amp-list` on `<base>/o/<token>/<name>.json`
 * (placeholder and fallback carry the block's fallback text; an amp-mustache template shows the
 * JSON's image at the block's size, with its text as alt and title), and the view-in-browser link.
 *
 * The JSON the amp-list reads (served by the open-time routes):
 *   {"items":[{"text": "...", "image": "<png/gif url>", "width": W, "height": H, "fallback": bool}]}
 *
 * Only what AMP for Email allows is written: the ⚡4email document with its required boilerplate,
 * the runtime plus amp-list and amp-mustache scripts, no inline styles, no `<img>`, https URLs.
 */
import { escapeHtml } from '../escape-html.ts'
import { type LiveBlockDef, type LiveLinks, openTimeUrl } from '../tags/live-tag.ts'

/** Gmail and the other AMP clients drop an AMP part larger than this (bytes). */
export const MAX_AMP_BYTES = 200_000

export interface AmpBlock {
  def: LiveBlockDef
  /** The block's fallback, as plain text. */
  fallbackText: string
}

/** The message in document order: text runs and live blocks. */
export type AmpSegment = { text: string } | { block: AmpBlock }

/** The head; the amp-list and amp-mustache scripts only when a block uses them (unused ones are refused). */
const head = (lists: boolean) => [
  '<!doctype html>',
  '<html ⚡4email data-css-strict>',
  '<head>',
  '<meta charset="utf-8">',
  '<script async src="https://cdn.ampproject.org/v0.js"></script>',
  ...(lists
    ? [
        '<script async custom-element="amp-list" src="https://cdn.ampproject.org/v0/amp-list-0.1.js"></script>',
        '<script async custom-template="amp-mustache" src="https://cdn.ampproject.org/v0/amp-mustache-0.2.js"></script>',
      ]
    : []),
  '<style amp4email-boilerplate>body{visibility:hidden}</style>',
  '<style amp-custom>body{font-family:sans-serif;line-height:1.4}.ink-live{margin:12px 0}</style>',
  '</head>',
]

/** Paragraphs (blank-line separated) with their line breaks kept, escaped. */
function paragraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => `<p>${p.split('\n').map(escapeHtml).join('<br>')}</p>`)
}

function ampList(block: AmpBlock, links: Pick<LiveLinks, 'baseUrl' | 'token'>): string {
  const { def } = block
  const size = `width="${def.width}" height="${def.height}"`
  const fallback = escapeHtml(block.fallbackText)
  // The image's URL comes from the JSON (`image`): the same signed .png/.gif the HTML part shows.
  return [
    `<div class="ink-live">`,
    `<amp-list src="${escapeHtml(openTimeUrl(links, `${def.name}.json`))}" layout="fixed" ${size} items="items" max-items="1">`,
    `<template type="amp-mustache"><amp-img src="{{image}}" layout="fixed" ${size} alt="{{text}}" title="{{text}}"></amp-img></template>`,
    `<div placeholder>${fallback}</div>`,
    `<div fallback>${fallback}</div>`,
    '</amp-list>',
    '</div>',
  ].join('\n')
}

/** The whole AMP document. `links.baseUrl` must be https (AMP clients fetch nothing else). */
export function buildAmpEmail(
  segments: readonly AmpSegment[],
  links: Pick<LiveLinks, 'baseUrl' | 'token'>,
): string {
  const body: string[] = []
  for (const s of segments) {
    if ('text' in s) body.push(...paragraphs(s.text))
    else body.push(ampList(s.block, links))
  }
  body.push(`<p><a href="${escapeHtml(openTimeUrl(links, 'view'))}">View this email in your browser</a></p>`)
  const lists = segments.some((s) => 'block' in s)
  return [...head(lists), '<body>', ...body, '</body>', '</html>', ''].join('\n')
}
