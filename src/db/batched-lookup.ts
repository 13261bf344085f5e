/**
 * Lookups asked for in the same turn of the event loop go to the store as one
 * query. An embedded (PGlite) statement costs about 0.4 ms of CPU whatever it
 * reads, ten keys in one statement about as much as two single ones; a
 * Postgres round trip is saved the same way. Nothing is cached: every caller
 * gets what the store held when the query ran, after its own call.
 *
 * `loadMany` receives distinct keys and answers with a map from each key's
 * `idOf` to its value (absent: not found).
 */
export function batchedLookup<K, V>(options: {
  idOf: (key: K) => string;
  loadMany: (keys: K[]) => Promise<Map<string, V>>;
  maxBatch?: number;
}): (key: K) => Promise<V | undefined> {
  const maxBatch = options.maxBatch ?? 100;
  type Waiting = { id: string; resolve: (value: V | undefined) => void; reject: (error: unknown) => void };
  let waiting: Waiting[] = [];
  let keys = new Map<string, K>();

  function flush(): void {
    if (waiting.length === 0) return;
    const batch = waiting;
    const distinct = [...keys.values()];
    waiting = [];
    keys = new Map();
    options.loadMany(distinct).then(
      (found) => { for (const w of batch) w.resolve(found.get(w.id)); },
      (error: unknown) => { for (const w of batch) w.reject(error); },
    );
  }

  return (key) => new Promise<V | undefined>((resolve, reject) => {
    const id = options.idOf(key);
    if (waiting.length === 0) setImmediate(flush);
    waiting.push({ id, resolve, reject });
    keys.set(id, key);
    if (keys.size >= maxBatch) flush();
  });
}
