import type { Cluster, Redis } from 'ioredis';
import { coalesceByKey } from './coalesce.ts';
import { msUntil } from './time.ts';
import type { JwtRevocation } from './types.ts';

/** Where the token state keeps them (key layout: redis-token-state.ts). */
export interface JwtKeys {
  /** zset of the grant's jtis, scored by expiry (ms) */
  jwts(grantId: string): string;
  /** "1" while the jti is denied */
  deny(jti: string): string;
}

/**
 * JWT access tokens in Redis: never stored, only indexed per grant, so that
 * revoking the grant puts them on the denylist until their exp. `indexAdd`
 * adds a member to an index that lives as long as its longest-lived member.
 */
export function createRedisJwtRevocation(
  client: Redis | Cluster,
  keys: JwtKeys,
  indexAdd: (key: string, member: string, expiresAtMs: number) => Promise<unknown>,
): JwtRevocation {
  /** Epoch seconds → a denylist entry that lives until then. */
  async function deny(jti: string, expiresAt: number): Promise<void> {
    const ttlMs = msUntil(expiresAt);
    if (ttlMs <= 0) return; // the token is dead already
    await client.set(keys.deny(jti), '1', 'PX', Math.ceil(ttlMs));
  }

  /** The grant's JWTs that have not expired yet, with their exp (epoch seconds). */
  async function liveJwts(grantId: string): Promise<Array<{ jti: string; expiresAt: number }>> {
    const flat = await client.zrangebyscore(keys.jwts(grantId), `(${Date.now()}`, '+inf', 'WITHSCORES');
    const entries: Array<{ jti: string; expiresAt: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      entries.push({ jti: flat[i], expiresAt: Math.round(Number(flat[i + 1]) / 1000) });
    }
    return entries;
  }

  return {
    denylist: {
      add: deny,
      async has(jti) {
        return (await client.exists(keys.deny(jti))) === 1;
      },
    },

    issuedJwts: {
      async record(grantId, jti, expiresAt) {
        if (msUntil(expiresAt) <= 0) return;
        await indexAdd(keys.jwts(grantId), jti, expiresAt * 1000);
      },
      list: liveJwts,
    },

    // The index is left to expire, so a JWT recorded meanwhile is never
    // dropped without being denylisted.
    revokeJwtsOfGrant: coalesceByKey(async (grantId) => {
      const jwts = await liveJwts(grantId);
      await Promise.all(jwts.map(({ jti, expiresAt }) => deny(jti, expiresAt)));
    }),
  };
}
