/**
 * HTML escaping for text we print ourselves (connected content without `:save`, the preheader),
 * with the same entities as liquidjs's `escape` filter, so every escaped value in a message reads
 * the same whoever printed it.
 */
const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&#34;',
  "'": '&#39;',
}

/** `&`, `<`, `>`, `"` and `'` as entities: safe in element text and in quoted attributes. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c)
