import type { Knex } from 'knex';
import { batchedLookup } from '../db/index.ts';

/**
 * How an instance learns that a client it has cached was changed or deleted
 * at another instance, before it uses the cached copy.
 *
 * Every change of a client row raises the row's `generation`. A change is
 * announced (with the generation it is about to write) before it commits,
 * and every lookup asks for the latest generation: a cached copy older than
 * that is not used. So once a change has returned at any instance, no
 * lookup that starts afterwards, anywhere, uses what was there before —
 * without waiting for a cache to expire.
 */
export interface ClientChangeLog {
  /** Called inside the change's transaction, before it commits; a failure aborts the change. */
  announce(clientId: string, generation: number): Promise<void>;
  /**
   * The newest generation known for the client: a cached copy with a smaller
   * generation is stale. Absent when every cached copy is current as far as
   * other processes go (this process's own changes invalidate at once).
   */
  readonly latest?: (clientId: string) => Promise<number>;
}

/**
 * One process owns the database (embedded PGlite behind its lock file): no
 * other process can change a client, so the repository's own invalidation is
 * all there is to it and a lookup reads nothing.
 */
export const singleProcessChanges: ClientChangeLog = {
  announce: async () => {},
};

/**
 * A cached client is reloaded at least this often whatever the announcements
 * say. Not the invalidation (that is the generation check): it bounds how long
 * an announcement must be kept — ANNOUNCEMENT_LIFETIME_MS, well above this —
 * so that a store may forget an announcement once no instance can still hold
 * a copy older than it.
 */
export const CACHED_CLIENT_MAX_AGE_MS = 60 * 60 * 1000;
export const ANNOUNCEMENT_LIFETIME_MS = 24 * 60 * 60 * 1000;

/** A generation no stored row can have: the row is gone. */
const GONE = Number.MAX_SAFE_INTEGER;

/**
 * Several instances on one Postgres without Redis: the row itself is the
 * announcement. A lookup reads its generation (lookups of one event-loop turn
 * share one statement); a deleted row reads as GONE.
 */
export function sqlClientChanges(knex: Knex): ClientChangeLog {
  const generations = batchedLookup({
    idOf: (clientId: string) => clientId,
    loadMany: async (clientIds: string[]) => {
      const { rows } = await knex.raw(
        `select client_id, generation from clients where client_id in (${clientIds.map(() => '?').join(', ')})`,
        clientIds,
      ) as { rows: Array<{ client_id: string; generation: string | number }> };
      return new Map(rows.map((row) => [row.client_id, Number(row.generation)]));
    },
  });
  return {
    announce: async () => {},
    latest: async (clientId) => (await generations(clientId)) ?? GONE,
  };
}

/** The generation a change writes: later than the current one, and than any earlier announcement (a re-created id). */
export function nextGeneration(current: number): number {
  return Math.max(current + 1, Date.now());
}
