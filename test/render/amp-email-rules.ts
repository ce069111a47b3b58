/**
 * An offline check of the AMP for Email rules our AMP part relies on (amp.dev "AMP for Email
 * specification" and the validator's AMP4EMAIL rules), used because the official validator
 * (npm amphtml-validator) downloads its engine, validator_wasm.js, from cdn.ampproject.org at run
 * time, which this environment cannot reach. When INKSTREAM_AMP_VALIDATOR_JS names a local copy of
 * validator_wasm.js, amp-email.test.ts also runs the official validator over the same documents.
 *
 * Checked: the doctype; `<html ⚡4email>` (or amp4email); `<meta charset="utf-8">` first in head;
 * the runtime script; the exact boilerplate style; a custom-element/custom-template script for
 * every AMP extension used and none unused, at the documented URLs; only elements and attributes
 * AMP for Email allows (no img, iframe, form, input, no on* handlers, no `javascript:` URLs);
 * amp-img and amp-list with a layout and positive width/height; https-only fetch URLs;
 * mustache only inside `<template>`; `<style amp-custom>` ≤ 75,000 bytes without !important;
 * the whole document ≤ 200,000 bytes.
 */
import { type DefaultTreeAdapterMap, parse } from 'parse5'

type Node = DefaultTreeAdapterMap['node']
type Element = DefaultTreeAdapterMap['element']

const RUNTIME = 'https://cdn.ampproject.org/v0.js'
const BOILERPLATE = 'body{visibility:hidden}'
const EXTENSIONS: Record<string, { attr: 'custom-element' | 'custom-template'; src: string }> = {
  'amp-list': { attr: 'custom-element', src: 'https://cdn.ampproject.org/v0/amp-list-0.1.js' },
  'amp-mustache': { attr: 'custom-template', src: 'https://cdn.ampproject.org/v0/amp-mustache-0.2.js' },
}
/** Elements our documents may use (a subset of what AMP for Email allows). */
const ALLOWED = new Set([
  'html',
  'head',
  'body',
  'meta',
  'script',
  'style',
  'p',
  'br',
  'div',
  'span',
  'a',
  'b',
  'strong',
  'em',
  'i',
  'h1',
  'h2',
  'h3',
  'template',
  'amp-img',
  'amp-list',
])
const LAYOUTS = new Set([
  'fixed',
  'fixed-height',
  'responsive',
  'fill',
  'flex-item',
  'container',
  'intrinsic',
])
export const MAX_AMP_EMAIL_BYTES = 200_000
const MAX_CSS_BYTES = 75_000

const attr = (el: Element, name: string) => el.attrs.find((a) => a.name === name)?.value
const isElement = (n: Node): n is Element => 'tagName' in n

function* walk(n: Node, inTemplate = false): Generator<{ el: Element; inTemplate: boolean }> {
  if (isElement(n)) yield { el: n, inTemplate }
  const kids =
    'content' in n && n.nodeName === 'template' ? n.content.childNodes : 'childNodes' in n ? n.childNodes : []
  for (const k of kids) yield* walk(k, inTemplate || (isElement(n) && n.tagName === 'template'))
}

const positiveInt = (v: string | undefined) => v !== undefined && /^[1-9]\d*$/.test(v)

/** Every rule the document breaks, as sentences; [] when it passes. */
export function ampEmailProblems(doc: string): string[] {
  const problems: string[] = []
  const bytes = Buffer.byteLength(doc, 'utf8')
  if (bytes > MAX_AMP_EMAIL_BYTES) problems.push(`document is ${bytes} bytes, over ${MAX_AMP_EMAIL_BYTES}`)
  if (!/^<!doctype html>/i.test(doc)) problems.push('does not start with <!doctype html>')
  const tree = parse(doc)
  const html = tree.childNodes.find(isElement)
  if (!html || (attr(html, '⚡4email') === undefined && attr(html, 'amp4email') === undefined))
    problems.push('<html> lacks the ⚡4email attribute')
  const head = html?.childNodes.find((n): n is Element => isElement(n) && n.tagName === 'head')
  const headKids = head?.childNodes.filter(isElement) ?? []
  const first = headKids[0]
  if (first?.tagName !== 'meta' || attr(first, 'charset')?.toLowerCase() !== 'utf-8')
    problems.push('<meta charset="utf-8"> is not the first child of <head>')
  const scripts = headKids.filter((e) => e.tagName === 'script')
  if (!scripts.some((s) => attr(s, 'src') === RUNTIME && attr(s, 'async') !== undefined))
    problems.push(`the runtime <script async src="${RUNTIME}"> is missing`)
  const boiler = headKids.find((e) => e.tagName === 'style' && attr(e, 'amp4email-boilerplate') !== undefined)
  const boilerText = boiler?.childNodes.map((c) => ('value' in c ? c.value : '')).join('')
  if (boilerText !== BOILERPLATE) problems.push('the amp4email-boilerplate style is missing or altered')
  const used = new Set<string>()
  for (const { el, inTemplate } of walk(tree)) {
    const name = el.tagName
    if (!ALLOWED.has(name)) problems.push(`<${name}> is not allowed in AMP for Email`)
    if (name.startsWith('amp-') && EXTENSIONS[name]) used.add(name)
    if (name === 'template') {
      if (attr(el, 'type') !== 'amp-mustache') problems.push('<template> without type="amp-mustache"')
      else used.add('amp-mustache')
    }
    for (const a of el.attrs) {
      if (/^on/i.test(a.name) && a.name !== 'on') problems.push(`<${name}> has an event handler ${a.name}`)
      if (/^\s*javascript:/i.test(a.value)) problems.push(`<${name} ${a.name}> is a javascript: URL`)
      if (!inTemplate && name !== 'template' && a.value.includes('{{'))
        problems.push(`<${name} ${a.name}> uses mustache outside a template`)
      if (a.name === 'style' && name !== 'style') problems.push(`<${name}> has an inline style attribute`)
    }
    if (name === 'script' && el.parentNode !== head) problems.push('a <script> outside <head>')
    if (name === 'script' && attr(el, 'src') !== RUNTIME) {
      const ext = attr(el, 'custom-element') ?? attr(el, 'custom-template')
      const spec = ext === undefined ? undefined : EXTENSIONS[ext]
      if (
        !spec ||
        attr(el, spec.attr) !== ext ||
        attr(el, 'src') !== spec.src ||
        attr(el, 'async') === undefined
      )
        problems.push(`script ${attr(el, 'src') ?? '(inline)'} is not an allowed AMP extension script`)
    }
    if (name === 'style' && attr(el, 'amp-custom') !== undefined) {
      const css = el.childNodes.map((c) => ('value' in c ? c.value : '')).join('')
      if (Buffer.byteLength(css) > MAX_CSS_BYTES) problems.push('amp-custom CSS over 75,000 bytes')
      if (/!important/i.test(css)) problems.push('amp-custom CSS uses !important')
    } else if (name === 'style' && attr(el, 'amp4email-boilerplate') === undefined)
      problems.push('a <style> that is neither amp-custom nor the boilerplate')
    if (name === 'amp-img' || name === 'amp-list') {
      const layout = attr(el, 'layout')
      if (layout === undefined || !LAYOUTS.has(layout)) problems.push(`<${name}> without a supported layout`)
      if (!positiveInt(attr(el, 'height'))) problems.push(`<${name}> without a positive integer height`)
      if (layout !== 'fixed-height' && !positiveInt(attr(el, 'width')))
        problems.push(`<${name}> without a positive integer width`)
      const src = attr(el, 'src')
      if (src === undefined) problems.push(`<${name}> without src`)
      else if (!(name === 'amp-img' && inTemplate && /^\{\{\w+\}\}$/.test(src)) && !/^https:\/\//.test(src))
        problems.push(`<${name}> src ${src} is not an https URL`)
    }
    if (name === 'a') {
      const href = attr(el, 'href')
      if (href !== undefined && !/^(https?:|mailto:)/i.test(href))
        problems.push(`<a href="${href}"> is not absolute`)
    }
  }
  for (const s of scripts) {
    const ext = attr(s, 'custom-element') ?? attr(s, 'custom-template')
    if (ext !== undefined && !used.has(ext)) problems.push(`script for ${ext} is included but not used`)
  }
  for (const ext of used) {
    const spec = EXTENSIONS[ext]!
    if (!scripts.some((s) => attr(s, spec.attr) === ext)) problems.push(`${ext} is used without its script`)
  }
  return problems
}
