import type { Cluster, Redis } from 'ioredis';
import { ANNOUNCEMENT_LIFETIME_MS, type ClientChangeLog } from '../clients/index.ts';
import { batchedLookup } from '../db/index.ts';
import { tokenDigest } from '../crypto/index.ts';

/*
 * Client changes announced in the token state's Redis (key layout, P = the
 * prefix): Pclientgen:<digest(clientId)> → the newest generation announced,
 * kept ANNOUNCEMENT_LIFETIME_MS after the last announcement. One key per
 * command, so this runs on Cluster too.
 *
 * Reading the announcement costs one GET per lookup (lookups of one
 * event-loop turn for one client share it; ioredis pipelines the rest), the
 * price of a change being seen at every instance at once; while Redis cannot
 * answer, a lookup fails (503, as every request that needs Redis) rather
 * than trust a copy it cannot check. As with the JTI
 * denylist, Redis must keep what it is told (persistence): an announcement
 * lost before it expired would let an instance keep a stale copy until
 * CACHED_CLIENT_MAX_AGE_MS.
 */

const RAISE = `
  local current = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tonumber(ARGV[1]) > current then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  else
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
  return 1`;

export function createRedisClientChanges(client: Redis | Cluster, prefix: string): ClientChangeLog {
  const keyOf = (clientId: string) => `${prefix}clientgen:${tokenDigest(clientId)}`;
  // Sent as EVALSHA with the key, so Cluster routes it to the key's slot.
  client.defineCommand('tesseraRaiseClientGeneration', { numberOfKeys: 1, lua: RAISE });
  const raise = (client as unknown as Record<string, (key: string, generation: number, ttlMs: number) => Promise<unknown>>)
    .tesseraRaiseClientGeneration.bind(client);

  const announced = batchedLookup({
    idOf: (clientId: string) => clientId,
    loadMany: async (clientIds: string[]) => {
      const values = await Promise.all(clientIds.map((clientId) => client.get(keyOf(clientId))));
      return new Map(clientIds.map((clientId, i) => [clientId, Number(values[i] ?? 0)]));
    },
  });

  return {
    async announce(clientId, generation) {
      await raise(keyOf(clientId), generation, ANNOUNCEMENT_LIFETIME_MS);
    },
    latest: async (clientId) => (await announced(clientId)) ?? 0,
  };
}
