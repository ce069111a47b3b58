/** The files of the embedded mode in INKSTREAM_DATA_DIR (also read by `inkstream keys` and tests). */

/** The store: profiles, identities, dedupe, processor offsets, templates, workspaces. */
export const DATABASE_FILE = 'inkstream.db'
/**
 * The event log, in its own file so that its writer (the collector, main thread) and the store's
 * writer (the processor thread) never wait for each other's SQLite write lock.
 */
export const LOG_FILE = 'log.db'
