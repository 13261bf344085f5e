/**
 * A small read-through cache for records read on every token request (client
 * metadata, resource servers). Entries live `ttlMs`; writes through this
 * process invalidate at once, other instances see a change within `ttlMs`.
 * Misses are not cached, so a record created on another instance is usable
 * there immediately.
 */
export function createTtlCache<V>(options: { ttlMs: number; maxEntries: number }) {
  const entries = new Map<string, { value: V; expiresAt: number }>();

  return {
    async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
      const now = Date.now();
      const hit = entries.get(key);
      if (hit && hit.expiresAt > now) return hit.value;
      const value = await load();
      if (value === undefined) {
        entries.delete(key);
        return undefined;
      }
      if (entries.size >= options.maxEntries) entries.delete(entries.keys().next().value!); // oldest first
      entries.set(key, { value, expiresAt: now + options.ttlMs });
      return value;
    },
    invalidate(key: string): void {
      entries.delete(key);
    },
  };
}
