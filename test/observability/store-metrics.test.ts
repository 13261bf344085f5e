// The token state's operations timed, and its failures counted, on a real SQL
// token state (PGlite in memory): the failures are those of a closed database.
import { describe, expect, test } from '@jest/globals';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { createDatabase, migrateToLatest } from '../../src/db/index.ts';
import { createSqlTokenState } from '../../src/tokens/index.ts';
import { createMetrics } from '../../src/observability/index.ts';

async function counter(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string>) {
  const families = parsePrometheusTextFormat((await metrics.scrape()).body);
  const sample = families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample ? Number(sample.value) : undefined;
}

describe('token state metrics', () => {
  test('operations are timed by name, and a failing store counts errors without changing what the caller sees', async () => {
    const db = await createDatabase({ inMemory: true });
    const metrics = createMetrics({ processMetrics: false });
    try {
      await migrateToLatest(db.knex);
      const state = metrics.measureTokenState(createSqlTokenState(db.knex));
      const adapter = state.adapterFactory('AccessToken');
      expect(state.adapterFactory('AccessToken')).toBe(adapter); // one wrapper per model

      await adapter.upsert('token-1', { jti: 'token-1', kind: 'AccessToken', clientId: 'c' } as never, 60);
      expect(await adapter.find('token-1')).toMatchObject({ jti: 'token-1' });
      expect(await state.denylist.has('some-jti')).toBe(false);
      expect(await counter(metrics, 'tessera_token_state_errors_total', { store: 'sql', operation: 'find' })).toBe(0);

      await db.close();
      await expect(adapter.find('token-1')).rejects.toThrow();
      await expect(adapter.upsert('token-2', { jti: 'token-2' } as never, 60)).rejects.toThrow();
      expect(await counter(metrics, 'tessera_token_state_errors_total', { store: 'sql', operation: 'find' })).toBe(1);
      expect(await counter(metrics, 'tessera_token_state_errors_total', { store: 'sql', operation: 'upsert' })).toBe(1);
      // both the succeeded and the failed finds are in the histogram (the parser keeps a
      // labelled histogram's series apart only when it is declared untyped: metrics.test.ts)
      const untyped = parsePrometheusTextFormat((await metrics.scrape()).body.replace(/^(# TYPE \S+) histogram$/gm, '$1 untyped'));
      const finds = untyped.filter((f) => f.name === 'tessera_token_state_operation_duration_seconds_count')
        .flatMap((f) => f.metrics).find((m) => m.labels?.operation === 'find' && m.labels?.store === 'sql');
      expect(finds?.value).toBe('2');
    } finally {
      await db.close().catch(() => {});
      metrics.close();
    }
  });
});
