/** Workspaces and their keys: a write key for the collector, an admin key for the API. */
import { randomBytes, timingSafeEqual } from 'node:crypto'

export interface Workspace {
  id: string
  writeKey: string
  adminKey: string
}

export interface WorkspaceStore {
  /** Creates the workspace with the given keys (or fresh random ones) if it does not exist; updates given keys. */
  ensure(
    id: string,
    keys: { writeKey?: string | undefined; adminKey?: string | undefined },
  ): Promise<Workspace>
  byWriteKey(key: string): Workspace | undefined
  byAdminKey(key: string): Workspace | undefined
  /** The workspace with this id (the dashboard's session names its workspace by id). */
  byId(id: string): Workspace | undefined
  close(): Promise<void>
}

export const newKey = (prefix: string) => `${prefix}_${randomBytes(18).toString('base64url')}`

/** Compares two keys in constant time for equal lengths. */
export function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * The keys of every workspace, held in memory (the collector checks a key per request) by both
 * backends; a store replaces them after loading and after each `ensure`.
 */
export class WorkspaceKeyring {
  #all: readonly Workspace[] = []

  replace(all: readonly Workspace[]): void {
    this.#all = all
  }

  byWriteKey(key: string): Workspace | undefined {
    return this.#all.find((w) => sameKey(w.writeKey, key))
  }

  byAdminKey(key: string): Workspace | undefined {
    return this.#all.find((w) => sameKey(w.adminKey, key))
  }

  byId(id: string): Workspace | undefined {
    return this.#all.find((w) => w.id === id)
  }
}
