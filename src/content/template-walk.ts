/** Walks parsed liquidjs templates: every node at any depth (tag bodies, branches), partials excluded. */
import { BlockTag } from './tags/block-tag.ts'

export type Visit = (node: object, inSection: boolean) => void

/** Calls visit for each node, saying whether it sits in the personalized part of a block with a fallback (section, live). */
export function walkTemplates(
  nodes: readonly unknown[],
  visit: Visit,
  inSection = false,
  seen = new Set<object>(),
): void {
  for (const node of nodes) {
    if (typeof node !== 'object' || node === null || seen.has(node)) continue
    seen.add(node)
    visit(node, inSection)
    for (const [key, value] of Object.entries(node)) {
      if (!Array.isArray(value)) continue
      walkTemplates(value, visit, inSection || (node instanceof BlockTag && key === 'body'), seen)
    }
  }
}
