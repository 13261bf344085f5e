import { CACHED_CLIENT_MAX_AGE_MS, type ClientChangeLog } from './client-changes.ts';

/** What a load read from SQL: the value and the row's generation. */
export interface Loaded<V> { value: V; generation: number }

/**
 * The clients read on every token request, cached per process and checked
 * against the change log before each use (client-changes.ts): no time to
 * live decides whether a copy is current.
 *
 * Inside this process, a change invalidates after it has committed, and a
 * load that was under way meanwhile (it may have read the row before the
 * change) does not store what it read: `localChanges` moved while it ran.
 * So no lookup that starts after a change has returned gets the old client.
 *
 * The same value object is handed out for as long as it is current (the
 * provider's built Client is remembered per object: reuseBuiltClients).
 */
export function createClientCache<V>(options: {
  changes: ClientChangeLog;
  load: (clientId: string) => Promise<Loaded<V> | undefined>;
  maxEntries: number;
}) {
  const { changes, load } = options;
  const entries = new Map<string, { value: V; generation: number; loadedAt: number }>();
  let localChanges = 0;

  return {
    async get(clientId: string): Promise<V | undefined> {
      // a change log that cannot be read fails the lookup: a copy that cannot be checked is not used
      const latest = changes.latest ? await changes.latest(clientId) : 0;
      const hit = entries.get(clientId);
      if (hit && hit.generation >= latest && Date.now() - hit.loadedAt < CACHED_CLIENT_MAX_AGE_MS) return hit.value;

      const changesBefore = localChanges;
      const loaded = await load(clientId);
      if (localChanges !== changesBefore) return loaded?.value; // a change ran meanwhile: do not keep this copy
      if (!loaded) {
        entries.delete(clientId);
        return undefined;
      }
      // A row older than the announcement: its change has not committed yet. Used, not kept.
      if (loaded.generation < latest) return loaded.value;
      if (!entries.has(clientId) && entries.size >= options.maxEntries) entries.delete(entries.keys().next().value!); // oldest first
      entries.set(clientId, { value: loaded.value, generation: loaded.generation, loadedAt: Date.now() });
      return loaded.value;
    },

    /** After a change of the client has committed (or failed: dropping a copy is always safe). */
    invalidate(clientId: string): void {
      localChanges += 1;
      entries.delete(clientId);
    },
  };
}
