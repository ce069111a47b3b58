/**
 * `node --import ./test/helpers/no-tsx.mjs …`: any import that resolves into tsx fails, in the main
 * thread and in every worker (workers inherit --import). Proves a process runs compiled JavaScript
 * with no TypeScript loader at run time.
 */
import { register } from 'node:module'

register('./no-tsx-hooks.mjs', import.meta.url)
