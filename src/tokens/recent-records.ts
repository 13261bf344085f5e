/**
 * What a single-process SQL token state (embedded PGlite: one process owns the
 * database, guarded by its lock file, and makes every write) has written
 * itself, kept in memory so that reading it back costs no SQL statement (an
 * embedded statement runs on the event loop's CPU).
 *
 * Written through: an entry is set, changed or marked deleted only after its
 * SQL write succeeded, never from a read, so it cannot hold anything the
 * table does not. What it does not hold (records from before the start, entries
 * pushed out by the size bound) is read from SQL as before.
 *
 * Record ids of the models kept here are random values unique across models,
 * so an entry also answers, without SQL, that its id is no record of another
 * of these models: introspection looks a token up as several kinds of token
 * at once (access, client_credentials, refresh).
 */
export interface RecentRow {
  model: string;
  key: string;
  payload: string;
  grant_id: string | null;
  consumed_at: number | null;
  expires_at: Date | null;
}

/** Models whose records are kept (their ids are fresh random values); others are ignored. */
const KEPT_MODELS = new Set(['AccessToken', 'ClientCredentials', 'RefreshToken', 'AuthorizationCode', 'Grant']);

export type RecentLookup = { known: false } | { known: true; row: RecentRow | undefined };

const UNKNOWN: RecentLookup = { known: false };
const ABSENT: RecentLookup = { known: true, row: undefined };

export type RecentRecords = ReturnType<typeof createRecentRecords>;

export function createRecentRecords(options: { maxEntries?: number } = {}) {
  const maxEntries = options.maxEntries ?? 50_000;
  // by key (the id's digest), oldest first; null: deleted by this process
  const rows = new Map<string, RecentRow | null>();
  const keysByGrant = new Map<string, Set<string>>();

  /** Drops what is known of `key`: it is read from SQL again. */
  function forget(key: string): void {
    const row = rows.get(key);
    if (row === undefined) return;
    rows.delete(key);
    const keys = row?.grant_id ? keysByGrant.get(row.grant_id) : undefined;
    keys?.delete(key);
    if (keys?.size === 0) keysByGrant.delete(row!.grant_id!);
  }

  function set(key: string, row: RecentRow | null): void {
    forget(key);
    rows.set(key, row);
    if (rows.size > maxEntries) forget(rows.keys().next().value!);
  }

  /** After a delete: the key is known to hold nothing. */
  function deleted(model: string, key: string): void {
    if (KEPT_MODELS.has(model)) set(key, null);
  }

  return {
    get size(): number {
      return rows.size;
    },

    /** The row of (model, key) if this process knows it, or that it knows there is none. */
    lookup(model: string, key: string): RecentLookup {
      if (!KEPT_MODELS.has(model)) return UNKNOWN;
      const row = rows.get(key);
      if (row === null) return ABSENT;
      if (!row) return UNKNOWN;
      if (row.expires_at !== null && row.expires_at.getTime() <= Date.now()) {
        forget(key);
        return ABSENT;
      }
      return row.model === model ? { known: true, row } : ABSENT;
    },

    /** After an upsert: the row as written. */
    remember(row: RecentRow): void {
      if (!KEPT_MODELS.has(row.model)) return;
      set(row.key, row);
      if (row.grant_id) {
        let keys = keysByGrant.get(row.grant_id);
        if (!keys) keysByGrant.set(row.grant_id, (keys = new Set()));
        keys.add(row.key);
      }
    },

    /** After an atomic consume. */
    consumed(key: string, at: number): void {
      const row = rows.get(key);
      if (row) rows.set(key, { ...row, consumed_at: at });
    },

    deleted,

    /** After deleting a grant's records of `models`. */
    deletedOfGrant(grantId: string, models: ReadonlySet<string>): void {
      for (const key of [...keysByGrant.get(grantId) ?? []]) {
        const model = rows.get(key)?.model;
        if (model && models.has(model)) deleted(model, key);
      }
    },


    /** Drops expired rows (the table's go with purgeExpired). */
    sweep(): void {
      const now = Date.now();
      for (const [key, row] of rows) {
        if (row && row.expires_at !== null && row.expires_at.getTime() <= now) forget(key);
      }
    },
  };
}
