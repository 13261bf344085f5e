import { describe, expect, test } from '@jest/globals';
import { batchedLookup } from '../../src/db/batched-lookup.ts';
import { createDatabase, migrateToLatest } from '../../src/db/index.ts';
import { createSqlTokenState } from '../../src/tokens/index.ts';

function recordingLoader(values: Record<string, string>) {
  const calls: string[][] = [];
  const lookup = batchedLookup({
    idOf: (key: string) => key,
    loadMany: async (keys: string[]) => {
      calls.push(keys);
      return new Map(keys.filter((k) => k in values).map((k) => [k, values[k]]));
    },
    maxBatch: 3,
  });
  return { lookup, calls };
}

describe('batched lookups', () => {
  test('lookups of one event-loop turn share one load of their distinct keys; each caller gets its own answer', async () => {
    const { lookup, calls } = recordingLoader({ a: 'A', b: 'B' });
    const answers = await Promise.all([lookup('a'), lookup('x'), lookup('a')]);
    expect(answers).toEqual(['A', undefined, 'A']);
    expect(calls).toEqual([['a', 'x']]);
    expect(await lookup('b')).toBe('B'); // a later turn: a load of its own
    expect(calls).toHaveLength(2);
  });

  test('at most maxBatch distinct keys per load', async () => {
    const { lookup, calls } = recordingLoader({ a: 'A', e: 'E' });
    const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map(lookup));
    expect(answers).toEqual(['A', undefined, undefined, undefined, 'E']);
    expect(calls).toEqual([['a', 'b', 'c'], ['d', 'e']]);
  });

  test('a failed load fails every caller of its batch, and the next batch is unaffected', async () => {
    let fail = true;
    const lookup = batchedLookup({
      idOf: (key: string) => key,
      loadMany: async (keys: string[]) => {
        if (fail) throw new Error('store down');
        return new Map(keys.map((k) => [k, k.toUpperCase()]));
      },
    });
    const results = await Promise.allSettled([lookup('a'), lookup('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await lookup('c')).toBe('C');
  });
});

describe('the SQL token state reads concurrent finds in one statement', () => {
  test('three finds at once (as introspection does) are one SELECT, and still see a write made just before', async () => {
    const db = await createDatabase({ inMemory: true });
    try {
      await migrateToLatest(db.knex);
      const state = createSqlTokenState(db.knex);
      const access = state.adapterFactory('AccessToken');
      const credentials = state.adapterFactory('ClientCredentials');
      const refresh = state.adapterFactory('RefreshToken');
      await credentials.upsert('token-one', { kind: 'ClientCredentials', clientId: 'c1' } as never, 60);
      const selects: string[] = [];
      db.knex.on('query', (q: { sql: string }) => { if (/^select/i.test(q.sql)) selects.push(q.sql); });
      const found = await Promise.all([access.find('token-one'), credentials.find('token-one'), refresh.find('token-one')]);
      expect(found.map((f) => f?.clientId)).toEqual([undefined, 'c1', undefined]);
      expect(found[1]?.jti).toBe('token-one');
      expect(selects).toHaveLength(1);
      await credentials.destroy('token-one');
      expect(await credentials.find('token-one')).toBeUndefined();
    } finally {
      await db.close();
    }
  });
});
