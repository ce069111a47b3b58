/**
 * The workspace's keys as the server stored them, for `inkstream keys` and as the admin key of
 * `inkstream send`. Read-only (src/compose/stored-keys.ts opens the store): a data folder (or
 * database) without an Inkstream store is reported, never created.
 */
import { type StoredKeys, type WorkspaceKeys, withStoredKeys } from '../compose/stored-keys.ts'
import type { Config } from '../config.ts'
import { InkError } from '../core/errors.ts'

export type { WorkspaceKeys }

/** Reads the keys of config.workspaceId from the server's store (SQLite file or PostgreSQL). */
export async function readWorkspaceKeys(config: Config): Promise<WorkspaceKeys> {
  return withStoredKeys(config, async (store: StoredKeys) => {
    const keys = await store.keysOf(config.workspaceId)
    if (keys === undefined) throw missingWorkspace(config.workspaceId, store.where)
    return keys
  })
}

const missingWorkspace = (id: string, where: string) =>
  new InkError(
    'INK_ERR_NOT_FOUND',
    `workspace "${id}" is not in ${where}; the server creates it on start (check INKSTREAM_WORKSPACE)`,
  )
