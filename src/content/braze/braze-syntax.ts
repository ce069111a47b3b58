/**
 * Braze's attribute syntax, translated to ours before liquidjs parses a template, so templates
 * pasted from Braze save, preview and send unchanged. Braze writes attributes as `${name}` inside
 * Liquid markup (`{{${first_name}}}`, `{% if custom_attribute.${tier} == 'gold' %}`); liquidjs
 * cannot read `$`, so each one becomes the name of our variable for it (docs/templates.md lists the
 * mapping). Only Liquid markup is rewritten: text, `{% raw %}` and `{% comment %}` bodies are kept
 * as written, and no line breaks are added or removed, so line numbers in errors stay true.
 */

/** Braze's standard attributes whose trait has another name here; any other `${name}` is the trait `name`. */
export const STANDARD_ATTRIBUTES: Readonly<Record<string, string>> = {
  email_address: 'email',
  phone_number: 'phone',
  date_of_birth: 'birthday',
  user_id: 'user_id',
}

/** Braze's campaign fields that have another name here (`{{campaign.${api_id}}}` is our campaign id). */
export const CAMPAIGN_FIELDS: Readonly<Record<string, string>> = { api_id: 'id' }

/** Names every template sees that are not traits: a custom attribute of that name is read from `profile`. */
const RESERVED = new Set(['user_id', 'profile', 'event', 'campaign'])

const IDENTIFIER = /^[A-Za-z_][\w]*$/

/** `obj.name`, or `obj["name"]` when the name is not a Liquid identifier (Braze allows spaces). */
function member(obj: string, name: string): string {
  if (IDENTIFIER.test(name)) return `${obj}.${name}`
  return `${obj}[${quote(name)}]`
}

/** A Liquid string literal; Liquid has no escapes, so the quote the name does not contain is used. */
function quote(name: string): string {
  if (!name.includes('"')) return `"${name}"`
  if (!name.includes("'")) return `'${name}'`
  throw new Error(`the attribute name ${name} contains both kinds of quote`)
}

/** Our expression for `prefix.${name}` (prefix undefined for a bare `${name}`). */
export function brazeVariable(prefix: string | undefined, name: string): string {
  const trimmed = name.trim()
  if (trimmed === '') throw new Error('an empty \u0024{} attribute: give it a name, e.g. \u0024{first_name}')
  switch (prefix) {
    case undefined: {
      const trait = STANDARD_ATTRIBUTES[trimmed] ?? trimmed
      if (trait === 'user_id') return 'user_id'
      return IDENTIFIER.test(trait) && !RESERVED.has(trait) ? trait : member('profile', trait)
    }
    case 'custom_attribute':
      return IDENTIFIER.test(trimmed) && !RESERVED.has(trimmed) ? trimmed : member('profile', trimmed)
    case 'event_properties':
      return member('event.properties', trimmed)
    case 'campaign':
      return member('campaign', CAMPAIGN_FIELDS[trimmed] ?? trimmed)
    default:
      return member(prefix, trimmed)
  }
}

/** `custom_attribute.${tier}`, `${first_name}`: an optional `word.` then `${…}`. */
const ATTRIBUTE = /(?:([A-Za-z_]\w*)\s*\.\s*)?\$\{([^}\n]*)\}/y

/**
 * Rewrites every `${…}` inside `{{ }}` and `{% %}` to our variable names. Throws an Error naming
 * the line when an attribute cannot be expressed (the save then reports it as a Liquid problem).
 */
export function translateBraze(source: string): string {
  if (!source.includes('${')) return source
  let out = ''
  let i = 0
  /** Set inside `{% raw %}` / `{% comment %}`: the tag name whose end tag closes the verbatim run. */
  let verbatim: string | undefined
  while (i < source.length) {
    const open = source.indexOf('{', i)
    if (open < 0 || open + 1 >= source.length) break
    const kind = source[open + 1]
    if (kind !== '{' && kind !== '%') {
      out += source.slice(i, open + 1)
      i = open + 1
      continue
    }
    out += source.slice(i, open)
    const close = kind === '{' ? '}}' : '%}'
    const { text, end } = markup(source, open + 2, close)
    const tag = kind === '%' ? /^-?\s*(\w+)/.exec(text)?.[1] : undefined
    if (verbatim !== undefined) {
      out += source.slice(open, end)
      if (tag === `end${verbatim}`) verbatim = undefined
    } else {
      if (tag === 'raw' || tag === 'comment') verbatim = tag
      out += `{${kind}${rewrite(text, source, open)}${end > source.length ? '' : close}`
    }
    i = Math.min(end, source.length)
  }
  return out + source.slice(i)
}

/** The markup from `from` to its closing delimiter; a `}` closing a `${…}` does not close it. */
function markup(source: string, from: number, close: string): { text: string; end: number } {
  let j = from
  while (j < source.length) {
    if (source.startsWith('${', j)) {
      const end = source.indexOf('}', j + 2)
      if (end < 0) break
      j = end + 1
      continue
    }
    if (source.startsWith(close, j)) return { text: source.slice(from, j), end: j + close.length }
    j++
  }
  return { text: source.slice(from), end: source.length + 1 }
}

const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c)
const isWordChar = (c: string | undefined) => c !== undefined && /\w/.test(c)
const isWordStart = (c: string | undefined) => c !== undefined && /[A-Za-z_]/.test(c)

/**
 * Where `word.` in front of the `${` at `dollar` starts (not before `from`), or `dollar` when there
 * is none; what `/([A-Za-z_]\w*)\s*\.\s*$/` finds, scanned backwards by hand: that regex on the text
 * before every `${` retried from each start position, quadratic in a long word before `${`.
 */
export function prefixStart(text: string, from: number, dollar: number): number {
  let j = dollar
  while (j > from && isSpace(text[j - 1])) j--
  if (j <= from || text[j - 1] !== '.') return dollar
  j--
  while (j > from && isSpace(text[j - 1])) j--
  const wordEnd = j
  while (j > from && isWordChar(text[j - 1])) j--
  // The word starts at its first letter or underscore (`9ab.` is `ab.`); digits alone are no name.
  while (j < wordEnd && !isWordStart(text[j])) j++
  return j < wordEnd ? j : dollar
}

function rewrite(text: string, source: string, at: number): string {
  if (!text.includes('${')) return text
  let out = ''
  let k = 0
  while (k < text.length) {
    const dollar = text.indexOf('${', k)
    if (dollar < 0) break
    // Look back for `word.` in front of the `${`, so `custom_attribute.${x}` is read as one.
    const start = prefixStart(text, k, dollar)
    ATTRIBUTE.lastIndex = start
    const m = ATTRIBUTE.exec(text)
    if (!m) {
      const line = source.slice(0, at).split('\n').length
      throw new Error(`line ${line}: "\${" is not closed by "}" in ${JSON.stringify(text.trim())}`)
    }
    out += text.slice(k, start) + brazeVariable(m[1], m[2]!)
    k = start + m[0].length
  }
  return out + text.slice(k)
}
