/** The resolve hook of no-tsx.mjs: a module inside the tsx package is refused. */
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  if (resolved.url.includes('/node_modules/tsx/')) {
    throw new Error(`tsx was loaded at run time (${specifier}), from ${context.parentURL ?? 'the entry'}`)
  }
  return resolved
}
