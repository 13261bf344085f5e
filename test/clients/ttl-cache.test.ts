import { describe, test, expect } from '@jest/globals';
import { createTtlCache } from '../../src/clients/ttl-cache.ts';

describe('ttl cache', () => {
  test('serves a loaded value until invalidated; misses are not cached', async () => {
    const cache = createTtlCache<string>({ ttlMs: 60_000, maxEntries: 10 });
    let loads = 0;
    const load = async () => { loads++; return 'v'; };
    expect(await cache.get('k', load)).toBe('v');
    expect(await cache.get('k', load)).toBe('v');
    expect(loads).toBe(1);
    cache.invalidate('k');
    await cache.get('k', load);
    expect(loads).toBe(2);

    let missLoads = 0;
    const missing = async () => { missLoads++; return undefined; };
    await cache.get('absent', missing);
    await cache.get('absent', missing);
    expect(missLoads).toBe(2);
  });

  test('expired entries are loaded again; the oldest entry goes when full', async () => {
    const cache = createTtlCache<number>({ ttlMs: 1, maxEntries: 2 });
    let loads = 0;
    const load = async () => ++loads;
    await cache.get('a', load);
    await new Promise((r) => setTimeout(r, 5));
    expect(await cache.get('a', load)).toBe(2);
  });
});
