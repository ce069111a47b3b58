/**
 * What each role of a process needs (DESIGN.md §2: collector, processor, api, sender). The backends
 * opened follow this table; the services (services.ts) and routes (http/server.ts) follow the
 * roles themselves. Embedded mode runs every role on embedded backends.
 */
import { ROLES, type Role } from '../config.ts'

export interface RoleNeeds {
  /** The api's and sender's stores (templates, segments, campaigns, ledger, triggers, …) and a profile cache. */
  stores: boolean
  /** A processor in this process (consumer group member, batch commits). */
  processor: boolean
}

const NEEDS: Record<Role, RoleNeeds> = {
  // Appends to the log and reads workspace keys: no store beyond that.
  collector: { stores: false, processor: false },
  processor: { stores: false, processor: true },
  // Admin API and tracking routes; campaigns started through it run in its process.
  api: { stores: true, processor: false },
  // Trigger jobs, campaign resume and takeover.
  sender: { stores: true, processor: false },
}

/** What a process running `roles` needs: the union over its roles. */
export function rolesNeed(roles: ReadonlySet<Role>): RoleNeeds {
  const needs: RoleNeeds = { stores: false, processor: false }
  for (const role of roles) {
    needs.stores ||= NEEDS[role].stores
    needs.processor ||= NEEDS[role].processor
  }
  return needs
}

/** `npm start` (embedded): every role in one process. */
export const ALL_ROLES: ReadonlySet<Role> = new Set(ROLES)

/**
 * One-off commands next to a running server (createApp with `processor: false`): the routes of
 * every role, but no processor (one per log) and no sender (the server sends).
 */
export const ONE_OFF_ROLES: ReadonlySet<Role> = new Set<Role>(['collector', 'api'])
