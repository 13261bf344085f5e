import type { Cluster, Redis } from 'ioredis';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { tokenDigest } from '../crypto/index.ts';
import { closeRedisClient } from '../redis/index.ts';
import { consumeRefused, onePerModel } from './adapters.ts';
import { newAlias, recordKeyOf } from './aliases.ts';
import { storedPayload } from './at-rest.ts';
import { GRANTABLE_MODELS } from './grantable.ts';
import { createRedisClientChanges } from './redis-client-changes.ts';
import { createRedisJwtRevocation } from './redis-jwt-revocation.ts';
import { redisRateLimitCounters } from './rate-limit-counters.ts';
import { throttledTouch, USE_OF_GRANT } from './grant-use.ts';
import { epochSeconds, ttlMsOf } from './time.ts';
import type { TokenState } from './types.ts';

/*
 * Key layout (P = prefix, d = tokenDigest(id)). Every key has a TTL, and every
 * command or script touches exactly one key, so this runs unchanged on Redis
 * Cluster (no cross-slot commands, no MULTI across keys).
 *
 *   P<Model>:<d>                      hash: payload (JSON without jti, userCode,
 *                                     consumed), consumed, userCodeDigest;
 *                                     a Grant's also lastUsedAt (grant-use.ts)
 *   PSession:uid:<digest(uid)>        → d
 *   PDeviceCode:userCode:<digest>     → d
 *   PDeviceCode:alias:<digest(alias)> → d   (aliases.ts)
 *   Pgrant:<grantId>                  zset "<Model>:<d>" by expiry (ms)
 *   Paccount:<digest(accountId)>      zset grantId by expiry (ms)
 *   Pclient:<digest(clientId)>        zset grantId by expiry (ms)
 *   Psessions:<digest(accountId)>     zset session uid by expiry (ms)
 *   PSession:meta:<digest(uid)>       hash: createdAt, lastActiveAt (ms), userAgent, ip
 *   Pjwt:<grantId>                    zset jti by expiry (ms)  (these two:
 *   Pdeny:<digest(jti)>               "1"                       redis-jwt-revocation.ts)
 *   Pclientgen:<digest(clientId)>     newest client generation announced
 *                                     (redis-client-changes.ts)
 *   Preplay:<digest(key)>             "1" while a DPoP proof / client assertion
 *                                     is single-use (ReplayGuard: SET NX PX)
 */

const SCRIPTS = {
  // Replace the record as a whole, keeping nothing of the previous version.
  // (A grant's last use, grant-use.ts, is kept across its rewrites.)
  tesseraUpsert: `
    local used = redis.call('HGET', KEYS[1], 'lastUsedAt')
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], unpack(ARGV, 2))
    if used then redis.call('HSET', KEYS[1], 'lastUsedAt', used) end
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    return 1`,
  // A field of the grant's own record: it lives as long as the grant (HSET keeps the TTL).
  tesseraTouch: `
    if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
    redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[1])
    return 1`,
  // One round trip on one key, so of N concurrent redemptions exactly one
  // wins. HSETNX on a hash field keeps the key's TTL.
  tesseraConsume: `
    if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
    if redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1]) == 1 then return 1 end
    return -1`,
  // Read and delete in one step, so the caller can clean the record's indexes.
  tesseraTake: `
    local record = redis.call('HGETALL', KEYS[1])
    redis.call('DEL', KEYS[1])
    return record`,
  tesseraTakeMembers: `
    local members = redis.call('ZRANGE', KEYS[1], 0, -1)
    redis.call('DEL', KEYS[1])
    return members`,
  // Add to an index, drop expired members, and let the index live exactly as
  // long as its longest-lived member (extended on add, never shortened).
  // ARGV: member, expiresAt ms, now ms.
  tesseraIndexAdd: `
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
    local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
    if not current or tonumber(current) < tonumber(ARGV[2]) then
      redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
    end
    local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
    redis.call('PEXPIREAT', KEYS[1], last[2])
    return 1`,
  // Delete a secondary index only while it still points at the record being
  // removed (a regenerated session may already own the same uid).
  tesseraDelIfEquals: `
    if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
    return 0`,
  // First use sets when, from what and where; every use sets lastActiveAt.
  // ARGV: at ms, userAgent, ip ('' = unknown), expiresAt ms.
  tesseraNoteActivity: `
    redis.call('HSETNX', KEYS[1], 'createdAt', ARGV[1])
    if ARGV[2] ~= '' then redis.call('HSETNX', KEYS[1], 'userAgent', ARGV[2]) end
    if ARGV[3] ~= '' then redis.call('HSETNX', KEYS[1], 'ip', ARGV[3]) end
    redis.call('HSET', KEYS[1], 'lastActiveAt', ARGV[1])
    redis.call('PEXPIREAT', KEYS[1], ARGV[4])
    return 1`,
} as const;

type Client = Redis | Cluster;
type Script = (key: string, ...args: Array<string | number>) => Promise<unknown>;
type Scripts = Record<keyof typeof SCRIPTS, Script>;
type Stored = { payload?: string; consumed?: string; userCodeDigest?: string };

function defineScripts(client: Client): Scripts {
  const scripts = {} as Scripts;
  for (const [name, lua] of Object.entries(SCRIPTS) as Array<[keyof typeof SCRIPTS, string]>) {
    // Sent as EVALSHA with the key, so Cluster routes it to the key's slot.
    client.defineCommand(name, { numberOfKeys: 1, lua });
    const run = (client as unknown as Record<string, Script>)[name];
    scripts[name] = run.bind(client);
  }
  return scripts;
}

function keysUnder(prefix: string) {
  return {
    record: (model: string, d: string) => `${prefix}${model}:${d}`,
    uid: (uid: string) => `${prefix}Session:uid:${tokenDigest(uid)}`,
    userCode: (model: string, ucd: string) => `${prefix}${model}:userCode:${ucd}`,
    alias: (model: string, alias: string) => `${prefix}${model}:alias:${tokenDigest(alias)}`,
    grant: (grantId: string) => `${prefix}grant:${grantId}`,
    account: (accountId: string) => `${prefix}account:${tokenDigest(accountId)}`,
    client: (clientId: string) => `${prefix}client:${tokenDigest(clientId)}`,
    sessions: (accountId: string) => `${prefix}sessions:${tokenDigest(accountId)}`,
    sessionMeta: (uid: string) => `${prefix}Session:meta:${tokenDigest(uid)}`,
    jwts: (grantId: string) => `${prefix}jwt:${grantId}`,
    deny: (jti: string) => `${prefix}deny:${tokenDigest(jti)}`,
    replay: (key: string) => `${prefix}replay:${tokenDigest(key)}`,
  };
}

/** What every adapter of one Redis token state works with. */
interface RedisStore {
  client: Client;
  scripts: Scripts;
  keys: ReturnType<typeof keysUnder>;
  /** Adds to an index (a zset by expiry in ms) that lives as long as its longest-lived member. */
  indexAdd: (key: string, member: string, expiresAtMs: number) => Promise<unknown>;
  revokeJwtsOfGrant: (grantId: string) => Promise<void>;
  touchGrant: (grantId: string) => Promise<void>;
}

/** HGETALL as a flat [field, value, ...] array (what Lua returns) → object. */
function fromPairs(flat: unknown): Stored {
  const pairs = flat as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) out[pairs[i]] = pairs[i + 1];
  return out;
}

function toPayload(stored: Stored): AdapterPayload | undefined {
  if (!stored.payload) return undefined;
  const payload = JSON.parse(stored.payload) as AdapterPayload;
  if (stored.consumed !== undefined) payload.consumed = JSON.parse(stored.consumed);
  return payload;
}

/** Deletes a record and the indexes that point at it; returns what it held. */
async function removeRecord(store: RedisStore, model: string, d: string, fromGrantIndex: boolean): Promise<AdapterPayload | undefined> {
  const { client, scripts, keys } = store;
  const stored = fromPairs(await scripts.tesseraTake(keys.record(model, d)));
  const payload = toPayload(stored);
  if (!payload) return undefined;
  const cleanups: Array<Promise<unknown>> = [];
  if (model === 'Session' && typeof payload.uid === 'string') {
    const { uid, accountId } = payload;
    // Only while the uid still named this record: a session whose id was
    // regenerated (same uid, new storage id) stays listed.
    cleanups.push(scripts.tesseraDelIfEquals(keys.uid(uid), d).then((deleted) => {
      if (deleted === 1 && typeof accountId === 'string') return client.zrem(keys.sessions(accountId), uid);
      return undefined;
    }));
  }
  if (stored.userCodeDigest) {
    cleanups.push(scripts.tesseraDelIfEquals(keys.userCode(model, stored.userCodeDigest), d));
  }
  if (fromGrantIndex && GRANTABLE_MODELS.has(model) && payload.grantId) {
    cleanups.push(client.zrem(keys.grant(payload.grantId), `${model}:${d}`));
  }
  await Promise.all(cleanups);
  return payload;
}

/** oidc-provider adapter of one model over Redis. */
function createRedisAdapter(model: string, store: RedisStore): Adapter {
  const { client, scripts, keys, indexAdd } = store;
  const resolveAlias = (alias: string) => client.get(keys.alias(model, alias));
  const keyOf = (id: string) => recordKeyOf(id, resolveAlias);
  const read = async (d: string) => toPayload((await client.hgetall(keys.record(model, d))) as Stored);

  const adapter: Adapter = {
    async upsert(id, payload, expiresIn) {
      // Everything in the token state must expire; oidc-provider passes a
      // TTL for every model when ttl.<Model> is configured (it is by default).
      if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn)) {
        throw new TypeError(`${model}: upsert needs expiresIn (configure ttl.${model})`);
      }
      if (expiresIn <= 0) {
        // Already expired: storing it would only keep a dead record around.
        return adapter.destroy(id);
      }
      const d = await keyOf(id);
      const ttlMs = ttlMsOf(expiresIn);
      const expiresAtMs = Date.now() + ttlMs;

      const fields: string[] = ['payload', JSON.stringify(storedPayload(model, payload))];
      if (payload.consumed !== undefined) fields.push('consumed', JSON.stringify(payload.consumed));
      const ucd = payload.userCode ? tokenDigest(payload.userCode) : undefined;
      if (ucd) fields.push('userCodeDigest', ucd);

      const writes: Array<Promise<unknown>> = [scripts.tesseraUpsert(keys.record(model, d), ttlMs, ...fields)];
      if (model === 'Session' && payload.uid) {
        writes.push(client.set(keys.uid(payload.uid), d, 'PX', ttlMs));
        // the account's sessions, by their public uid (never the storage id)
        if (typeof payload.accountId === 'string') writes.push(indexAdd(keys.sessions(payload.accountId), payload.uid, expiresAtMs));
      }
      if (ucd) writes.push(client.set(keys.userCode(model, ucd), d, 'PX', ttlMs));
      if (GRANTABLE_MODELS.has(model) && payload.grantId) {
        writes.push(indexAdd(keys.grant(payload.grantId), `${model}:${d}`, expiresAtMs));
      }
      if (USE_OF_GRANT.has(model) && payload.grantId) writes.push(store.touchGrant(payload.grantId));
      if (model === 'Grant') {
        // Grant ids are not secrets: admin revocation needs them back.
        if (payload.accountId) writes.push(indexAdd(keys.account(payload.accountId), id, expiresAtMs));
        if (payload.clientId) writes.push(indexAdd(keys.client(payload.clientId), id, expiresAtMs));
      }
      await Promise.all(writes);
    },

    async find(id) {
      const payload = await read(await keyOf(id));
      return payload && { ...payload, jti: id };
    },

    // Session.findByUid only reads the session (accountId, grants), so no jti.
    async findByUid(uid) {
      const d = await client.get(keys.uid(uid));
      return d ? read(d) : undefined;
    },

    // The alias lives as long as the record has left (aliases.ts).
    async findByUserCode(userCode) {
      const d = await client.get(keys.userCode(model, tokenDigest(userCode)));
      if (!d) return undefined;
      const [payload, ttlMs] = await Promise.all([read(d), client.pttl(keys.record(model, d))]);
      if (!payload || ttlMs <= 0) return undefined;
      const alias = newAlias();
      await client.set(keys.alias(model, alias), d, 'PX', ttlMs);
      return { ...payload, userCode, jti: alias };
    },

    async consume(id) {
      const result = await scripts.tesseraConsume(keys.record(model, await keyOf(id)), epochSeconds());
      if (result === 0) throw consumeRefused(false);
      if (result === -1) throw consumeRefused(true);
    },

    async destroy(id) {
      const payload = await removeRecord(store, model, await keyOf(id), true);
      if (model === 'Grant' && payload) {
        // The grant id is only known here (the record holds no jti).
        await Promise.all([
          payload.accountId && client.zrem(keys.account(payload.accountId), id),
          payload.clientId && client.zrem(keys.client(payload.clientId), id),
        ]);
      }
    },

    // The grant index is shared by all grantable models, so one call removes
    // the grant's tokens of every kind (as oidc-provider's memory adapter does)
    // and denylists its JWTs. oidc-provider calls it on refresh-token reuse,
    // revocation and logout; Tessera's own revocation calls it too.
    async revokeByGrantId(grantId) {
      await store.revokeJwtsOfGrant(grantId);
      const members = (await scripts.tesseraTakeMembers(keys.grant(grantId))) as string[];
      await Promise.all(members.map((member) => {
        const [memberModel, d] = member.split(':');
        return removeRecord(store, memberModel, d, false);
      }));
    },
  };
  return adapter;
}

export function createRedisTokenState(client: Client, options: { prefix?: string } = {}): TokenState {
  const prefix = options.prefix ?? 'tessera:';
  const scripts = defineScripts(client);
  const keys = keysUnder(prefix);
  const indexAdd = (key: string, member: string, expiresAtMs: number) =>
    scripts.tesseraIndexAdd(key, member, Math.ceil(expiresAtMs), Date.now());
  const jwts = createRedisJwtRevocation(client, keys, indexAdd);
  const grantRecord = (grantId: string) => keys.record('Grant', tokenDigest(grantId));
  const touchGrant = throttledTouch(async (grantId, at) => { await scripts.tesseraTouch(grantRecord(grantId), at); });
  const store: RedisStore = { client, scripts, keys, indexAdd, revokeJwtsOfGrant: jwts.revokeJwtsOfGrant, touchGrant };

  /** Members of an index whose expiry is still ahead. */
  const liveMembers = (key: string) => client.zrangebyscore(key, `(${Date.now()}`, '+inf');

  return {
    kind: 'redis',
    rateLimitCounters: redisRateLimitCounters(client, prefix),
    adapterFactory: onePerModel((model) => createRedisAdapter(model, store)),
    denylist: jwts.denylist,
    issuedJwts: jwts.issuedJwts,
    grants: {
      ofAccount: (accountId) => liveMembers(keys.account(accountId)),
      ofClient: (clientId) => liveMembers(keys.client(clientId)),
    },
    sessions: {
      ofAccount: (accountId) => liveMembers(keys.sessions(accountId)),
      async take(uid) {
        const d = await client.get(keys.uid(uid));
        const [payload] = await Promise.all([
          d ? removeRecord(store, 'Session', d, true) : undefined,
          client.del(keys.sessionMeta(uid)),
        ]);
        return payload;
      },
      async noteActivity(uid, activity, expiresAtMs) {
        await scripts.tesseraNoteActivity(keys.sessionMeta(uid), activity.at, activity.userAgent ?? '', activity.ip ?? '', Math.ceil(expiresAtMs));
      },
      async metadataOf(uid) {
        const stored = await client.hgetall(keys.sessionMeta(uid));
        if (!stored.createdAt) return undefined;
        return {
          createdAt: Number(stored.createdAt),
          lastActiveAt: Number(stored.lastActiveAt ?? stored.createdAt),
          userAgent: stored.userAgent ?? null,
          ip: stored.ip ?? null,
        };
      },
    },
    grantUse: {
      touch: touchGrant,
      async lastUsed(grantIds) {
        const values = await Promise.all(grantIds.map((id) => client.hget(grantRecord(id), 'lastUsedAt')));
        return new Map(grantIds.flatMap((id, i) => (values[i] ? [[id, Number(values[i])] as [string, number]] : [])));
      },
    },
    replays: {
      // one command on one key: of N concurrent claims, at any instance, one sets it
      async claimOnce(key, ttlSeconds) {
        return (await client.set(keys.replay(key), '1', 'PX', Math.max(1, Math.ceil(ttlSeconds * 1000)), 'NX')) === 'OK';
      },
    },
    clientChanges: createRedisClientChanges(client, prefix),
    async ping() {
      await client.ping();
    },
    close: () => closeRedisClient(client),
  };
}
