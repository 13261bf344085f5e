import type { Knex } from 'knex';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { tokenDigest } from '../crypto/index.ts';
import { batchedLookup } from '../db/index.ts';
import { consumeRefused, onePerModel } from './adapters.ts';
import { isAlias, newAlias, recordKeyOf } from './aliases.ts';
import { storedPayload } from './at-rest.ts';
import { GRANTABLE_MODELS } from './grantable.ts';
import { createRecentRecords, type RecentRecords } from './recent-records.ts';
import { createSqlJwtRevocation } from './sql-jwt-revocation.ts';
import { memoryRateLimitCounters, purgeSqlRateLimitCounters, sqlRateLimitCounters } from './rate-limit-counters.ts';
import { throttledTouch, USE_OF_GRANT } from './grant-use.ts';
import { epochSeconds, ttlMsOf } from './time.ts';
import type { TokenState } from './types.ts';

/*
 * Tables (migrations/0001_initial.ts):
 *   token_state   (model, key = tokenDigest(id)) → payload without jti / userCode /
 *                 consumed; grant_id (a Grant row: its own id), uid_key and
 *                 user_code_key (digests), account_id (Grant and Session rows),
 *                 client_id (Grant rows), consumed_at, expires_at; last_used_at
 *                 of a Grant row (grant-use.ts; migrations/0007_account_lifecycle.ts),
 *                 which upserts leave alone.
 *                 Aliases handed out by findByUserCode (aliases.ts) are rows of
 *                 model "<Model>#alias" keyed by the alias digest, payload {target}.
 *                 What is known of a session besides its record (sessions.ts) is a
 *                 row of model "Session#meta" keyed by the uid's digest.
 *                 A claimed single-use key (ReplayGuard: DPoP proofs, client
 *                 assertions) is a row of model "Replay#claim" keyed by its digest.
 *   jti_denylist, issued_jwts: sql-jwt-revocation.ts
 * Expired rows are invisible to every read and removed by purgeExpired().
 */

interface TokenStateRow {
  model: string; key: string; payload: AdapterPayload | string; grant_id: string | null;
  uid_key: string | null; user_code_key: string | null; account_id: string | null; client_id: string | null;
  consumed_at: number | null; expires_at: Date | null;
}

const GRANTABLE = [...GRANTABLE_MODELS];

const expiryOf = (expiresIn?: number) => (typeof expiresIn === 'number' ? new Date(Date.now() + ttlMsOf(expiresIn)) : null);
/**
 * Rows a delete affected. knex-pglite hands back its raw result ({ rowCount })
 * for DELETE where knex-pg gives a number.
 */
function affectedRows(result: unknown): number {
  if (typeof result === 'number') return result;
  const count = (result as { rowCount?: unknown; affectedRows?: unknown } | null)?.rowCount
    ?? (result as { affectedRows?: unknown } | null)?.affectedRows;
  return typeof count === 'number' ? count : 0;
}
const parsePayload = (payload: AdapterPayload | string): AdapterPayload => (typeof payload === 'string' ? JSON.parse(payload) : payload);

type RecordKey = { model: string; key: string };
const recordIdOf = ({ model, key }: RecordKey) => `${model}\u0000${key}`;

/** Live rows by (model, key), for many keys in one statement (knex.raw: the query builder costs more than the query). */
function liveRowsReader(knex: Knex) {
  return async (wanted: RecordKey[]): Promise<Map<string, TokenStateRow>> => {
    const pairs = wanted.map(() => '(?, ?)').join(', ');
    const { rows } = await knex.raw(
      `select * from token_state where (model, key) in (${pairs}) and (expires_at is null or expires_at > ?)`,
      [...wanted.flatMap(({ model, key }) => [model, key]), new Date()],
    ) as { rows: TokenStateRow[] };
    return new Map(rows.map((row) => [recordIdOf(row), row]));
  };
}

/** The live rows of `model`, to narrow down. */
function live(knex: Knex, model: string) {
  return knex<TokenStateRow>('token_state')
    .where({ model })
    .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', new Date()));
}

/** A row's payload with its consumed mark, and `id` as its jti when given. */
function restore(row: TokenStateRow | undefined, id?: string): AdapterPayload | undefined {
  if (!row) return undefined;
  const payload = parsePayload(row.payload);
  if (row.consumed_at !== null && row.consumed_at !== undefined) payload.consumed = row.consumed_at;
  return id === undefined ? payload : { ...payload, jti: id };
}

/** What every adapter of one SQL token state works with. */
interface SqlStore {
  knex: Knex;
  /** the live row of (model, key); lookups of one event-loop turn share a statement */
  findLive: (record: RecordKey) => Promise<TokenStateRow | undefined>;
  /** single-process mode: what this process wrote, read back without SQL */
  recent: RecentRecords | undefined;
  revokeJwtsOfGrant: (grantId: string) => Promise<void>;
  touchGrant: (grantId: string) => Promise<void>;
}

/** oidc-provider adapter of one model over the token_state table. */
function createSqlAdapter(model: string, store: SqlStore): Adapter {
  const { knex, findLive, recent } = store;
  const isGrant = model === 'Grant';
  const aliasModel = `${model}#alias`;
  const resolveAlias = async (alias: string) => {
    const row = await live(knex, aliasModel).andWhere({ key: tokenDigest(alias) }).first();
    const target = row && (parsePayload(row.payload) as { target?: unknown }).target;
    return typeof target === 'string' ? target : undefined;
  };
  const keyOf = (id: string) => recordKeyOf(id, resolveAlias);

  const adapter: Adapter = {
    async upsert(id, payload, expiresIn) {
      if (typeof expiresIn === 'number' && expiresIn <= 0) {
        // Already expired: storing it would only keep a dead record around.
        return adapter.destroy(id);
      }
      // The consumed mark lives in its own column, so consume() is one atomic UPDATE.
      const { consumed, userCode } = payload;
      const rest = storedPayload(model, payload);
      if (consumed !== undefined && typeof consumed !== 'number') rest.consumed = consumed;
      const row = {
        model,
        key: await keyOf(id),
        payload: JSON.stringify(rest),
        // a Grant row carries its own (non-secret) id so it can be listed
        grant_id: isGrant ? id : payload.grantId ?? null,
        uid_key: payload.uid ? tokenDigest(payload.uid) : null,
        user_code_key: userCode ? tokenDigest(userCode) : null,
        // Grants and sessions are listed by account (migrations/0008_sessions.ts)
        account_id: isGrant || model === 'Session' ? payload.accountId ?? null : null,
        client_id: isGrant ? payload.clientId ?? null : null,
        consumed_at: typeof consumed === 'number' ? consumed : null,
        expires_at: expiryOf(expiresIn),
      };
      // Every column is written: the new version replaces the old one as a whole.
      await knex('token_state').insert(row).onConflict(['model', 'key']).merge();
      if (!isAlias(id)) recent?.remember(row);
      if (USE_OF_GRANT.has(model) && payload.grantId) await store.touchGrant(payload.grantId);
    },

    async find(id) {
      const key = await keyOf(id);
      const known = isAlias(id) ? undefined : recent?.lookup(model, key);
      if (known?.known) return restore(known.row as TokenStateRow | undefined, id);
      return restore(await findLive({ model, key }), id);
    },

    // Session.findByUid only reads the session (accountId, grants), so no jti.
    async findByUid(uid) {
      return restore(await live(knex, model).andWhere({ uid_key: tokenDigest(uid) }).first());
    },

    // The alias lives as long as the record has left (aliases.ts).
    async findByUserCode(userCode) {
      const row = await live(knex, model).andWhere({ user_code_key: tokenDigest(userCode) }).first();
      if (!row) return undefined;
      const alias = newAlias();
      await knex('token_state').insert({
        model: aliasModel,
        key: tokenDigest(alias),
        payload: JSON.stringify({ target: row.key }),
        expires_at: row.expires_at,
      });
      return { ...restore(row), userCode, jti: alias };
    },

    /** Atomic: of N concurrent consumers exactly one finds it unconsumed. */
    async consume(id) {
      const key = await keyOf(id);
      const at = epochSeconds();
      const updated = await live(knex, model)
        .andWhere({ key })
        .whereNull('consumed_at')
        .update({ consumed_at: at });
      if (affectedRows(updated) === 1) {
        recent?.consumed(key, at);
        return;
      }
      const exists = await live(knex, model).andWhere({ key }).first('key');
      throw consumeRefused(Boolean(exists));
    },

    async destroy(id) {
      const key = await keyOf(id);
      await knex('token_state').where({ model, key }).delete();
      recent?.deleted(model, key);
    },

    /*
     * oidc-provider calls this on each grantable model's adapter (refresh-token
     * reuse, revocation, logout), so one call removes the grant's tokens of every
     * kind, and puts the JWT access tokens issued under the grant (never stored,
     * only indexed) on the denylist. The Grant row itself is destroyed separately.
     */
    async revokeByGrantId(grantId) {
      await store.revokeJwtsOfGrant(grantId);
      await knex('token_state').where({ grant_id: grantId }).whereIn('model', GRANTABLE).delete();
      recent?.deletedOfGrant(grantId, GRANTABLE_MODELS);
    },
  };
  return adapter;
}

export type SqlTokenState = TokenState & { purgeExpired(): Promise<number> };

/**
 * Token state in the SQL database (embedded mode, or Postgres without Redis).
 * `singleProcess`: this process is the only one using the database (embedded
 * PGlite, guarded by its lock file), so what it wrote, and the denylist, may
 * be kept in memory and read back without SQL.
 */
export function createSqlTokenState(knex: Knex, options: { singleProcess?: boolean } = {}): SqlTokenState {
  const jwts = createSqlJwtRevocation(knex, { mirrored: options.singleProcess === true });
  const recent = options.singleProcess ? createRecentRecords() : undefined;
  const store: SqlStore = {
    knex,
    findLive: batchedLookup({ idOf: recordIdOf, loadMany: liveRowsReader(knex) }),
    recent,
    revokeJwtsOfGrant: jwts.revokeJwtsOfGrant,
    touchGrant: throttledTouch(async (grantId, at) => {
      await knex('token_state').where({ model: 'Grant', key: tokenDigest(grantId) }).update({ last_used_at: at });
    }),
  };

  const grantIdsWhere = async (column: 'account_id' | 'client_id', value: string) => {
    const rows = await live(knex, 'Grant').select('grant_id').andWhere({ [column]: value });
    return rows.map((r) => r.grant_id!);
  };

  const SESSION_META = 'Session#meta';
  const REPLAY_CLAIM = 'Replay#claim';

  return {
    kind: 'sql',
    // one process owns embedded PGlite: its memory is the shared count, without an upsert per batch
    rateLimitCounters: options.singleProcess ? memoryRateLimitCounters() : sqlRateLimitCounters(knex),
    adapterFactory: onePerModel((model) => createSqlAdapter(model, store)),
    denylist: jwts.denylist,
    issuedJwts: jwts.issuedJwts,
    grants: {
      ofAccount: (accountId) => grantIdsWhere('account_id', accountId),
      ofClient: (clientId) => grantIdsWhere('client_id', clientId),
    },
    grantUse: {
      touch: store.touchGrant,
      async lastUsed(grantIds) {
        if (!grantIds.length) return new Map();
        const rows = await live(knex, 'Grant').select('grant_id', 'last_used_at').whereIn('key', grantIds.map(tokenDigest)) as Array<{ grant_id: string; last_used_at: number | null }>;
        return new Map(rows.flatMap((row) => (row.last_used_at ? [[row.grant_id, Number(row.last_used_at)] as [string, number]] : [])));
      },
    },

    sessions: {
      async ofAccount(accountId) {
        const rows = await live(knex, 'Session').andWhere({ account_id: accountId }).select(knex.raw("payload->>'uid' as uid")) as unknown as Array<{ uid: string | null }>;
        return rows.flatMap((row) => (row.uid ? [row.uid] : []));
      },
      async take(uid) {
        const { rows } = await knex.raw(
          "delete from token_state where model = 'Session' and uid_key = ? returning key, payload, expires_at",
          [tokenDigest(uid)],
        ) as { rows: Array<Pick<TokenStateRow, 'key' | 'payload' | 'expires_at'>> };
        await knex('token_state').where({ model: SESSION_META, key: tokenDigest(uid) }).delete();
        for (const row of rows) recent?.deleted('Session', row.key);
        const live = rows.find((row) => !row.expires_at || new Date(row.expires_at).getTime() > Date.now());
        return live && parsePayload(live.payload);
      },
      async noteActivity(uid, activity, expiresAtMs) {
        const first = { createdAt: activity.at, lastActiveAt: activity.at, userAgent: activity.userAgent, ip: activity.ip };
        await knex.raw(
          `insert into token_state (model, key, payload, expires_at) values (?, ?, ?::jsonb, ?)
           on conflict (model, key) do update
           set payload = jsonb_set(token_state.payload, '{lastActiveAt}', to_jsonb(?::bigint)), expires_at = excluded.expires_at`,
          [SESSION_META, tokenDigest(uid), JSON.stringify(first), new Date(expiresAtMs), activity.at],
        );
      },
      async metadataOf(uid) {
        const row = await live(knex, SESSION_META).andWhere({ key: tokenDigest(uid) }).first();
        if (!row) return undefined;
        const meta = parsePayload(row.payload) as { createdAt?: unknown; lastActiveAt?: unknown; userAgent?: unknown; ip?: unknown };
        if (typeof meta.createdAt !== 'number') return undefined;
        return {
          createdAt: meta.createdAt,
          lastActiveAt: typeof meta.lastActiveAt === 'number' ? meta.lastActiveAt : meta.createdAt,
          userAgent: typeof meta.userAgent === 'string' ? meta.userAgent : null,
          ip: typeof meta.ip === 'string' ? meta.ip : null,
        };
      },
    },

    replays: {
      // One statement: the insert wins, or takes over an expired row (not yet
      // purged); a live row makes it return nothing. Postgres serializes
      // conflicting inserts on the primary key, so of N concurrent claims one
      // returns a row.
      async claimOnce(key, ttlSeconds) {
        const now = new Date();
        const { rows } = await knex.raw(
          `insert into token_state (model, key, payload, expires_at) values (?, ?, '{}'::jsonb, ?)
           on conflict (model, key) do update set expires_at = excluded.expires_at
           where token_state.expires_at is not null and token_state.expires_at <= ?
           returning key`,
          [REPLAY_CLAIM, tokenDigest(key), new Date(now.getTime() + Math.max(1, Math.ceil(ttlSeconds * 1000))), now],
        ) as { rows: unknown[] };
        return rows.length === 1;
      },
    },

    async ping() {
      await knex.raw('select 1');
    },

    async close() {
      // the database belongs to whoever created it
    },

    /** Deletes expired rows; run periodically by the server. */
    async purgeExpired() {
      jwts.forgetExpired();
      recent?.sweep();
      const at = new Date();
      let removed = 0;
      for (const table of ['token_state', 'jti_denylist', 'issued_jwts']) {
        removed += affectedRows(await knex(table).where('expires_at', '<=', at).delete());
      }
      removed += await purgeSqlRateLimitCounters(knex);
      return removed;
    },
  };
}
