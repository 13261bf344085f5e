import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { tokenDigest } from '../crypto/index.ts';
import { GRANTABLE_MODELS } from './grantable.ts';
import { coalesceByKey } from './coalesce.ts';
import { batchedLookup } from '../db/index.ts';
import { RecentRecords } from './recent-records.ts';
import { withoutSessionCookie } from './at-rest.ts';
import type { TokenState } from './types.ts';

/*
 * Tables (migrations/0001_initial.ts):
 *   token_state   (model, key = tokenDigest(id)) → payload without jti / userCode /
 *                 consumed; grant_id (a Grant row: its own id), uid_key and
 *                 user_code_key (digests), account_id / client_id (Grant rows),
 *                 consumed_at, expires_at.
 *                 Aliases handed out by findByUserCode are rows of model
 *                 "<Model>#alias" keyed by the alias digest, payload {target}.
 *   jti_denylist  jti → expires_at
 *   issued_jwts   (grant_id, jti) → expires_at
 * Expired rows are invisible to every read and removed by purgeExpired().
 */

interface TokenStateRow {
  model: string; key: string; payload: AdapterPayload | string; grant_id: string | null;
  uid_key: string | null; user_code_key: string | null; account_id: string | null; client_id: string | null;
  consumed_at: number | null; expires_at: Date | null;
}

/** Handles from findByUserCode start with this; real ids are nanoids ([A-Za-z0-9_-]). */
const ALIAS_MARK = 'alias.';
const aliasModelOf = (model: string) => `${model}#alias`;
const GRANTABLE = [...GRANTABLE_MODELS];

const epochSeconds = () => Math.floor(Date.now() / 1000);
const now = () => new Date();
const expiryOf = (expiresIn?: number) => (typeof expiresIn === 'number' ? new Date(Date.now() + expiresIn * 1000) : null);
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
      [...wanted.flatMap(({ model, key }) => [model, key]), now()],
    ) as { rows: TokenStateRow[] };
    return new Map(rows.map((row) => [recordIdOf(row), row]));
  };
}

interface SqlAdapterDeps {
  knex: Knex;
  revokeJwtsOfGrant: (grantId: string) => Promise<void>;
  /** the live row of (model, key); lookups of one event-loop turn share a statement */
  findLive: (record: RecordKey) => Promise<TokenStateRow | undefined>;
  /** single-process mode: what this process wrote, read back without SQL */
  recent?: RecentRecords;
}

/** oidc-provider adapter over the token_state table. */
class SqlAdapter implements Adapter {
  readonly #knex: Knex;
  readonly #model: string;
  readonly #revokeJwtsOfGrant: (grantId: string) => Promise<void>;
  readonly #findLive: SqlAdapterDeps['findLive'];
  readonly #recent: RecentRecords | undefined;

  constructor(model: string, deps: SqlAdapterDeps) {
    this.#knex = deps.knex;
    this.#model = model;
    this.#revokeJwtsOfGrant = deps.revokeJwtsOfGrant;
    this.#findLive = deps.findLive;
    this.#recent = deps.recent;
  }

  #live(model = this.#model) {
    return this.#knex<TokenStateRow>('token_state')
      .where({ model })
      .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', now()));
  }

  /** The key under which the record of `id` lives; an alias resolves to its device code. */
  async #keyOf(id: string): Promise<string> {
    if (id.startsWith(ALIAS_MARK)) {
      const alias = await this.#live(aliasModelOf(this.#model)).andWhere({ key: tokenDigest(id) }).first();
      const target = alias && (parsePayload(alias.payload) as { target?: unknown }).target;
      if (typeof target === 'string') return target;
    }
    return tokenDigest(id);
  }

  #restore(row: TokenStateRow | undefined, id?: string): AdapterPayload | undefined {
    if (!row) return undefined;
    const payload = parsePayload(row.payload);
    if (row.consumed_at !== null && row.consumed_at !== undefined) payload.consumed = row.consumed_at;
    return id === undefined ? payload : { ...payload, jti: id };
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    if (typeof expiresIn === 'number' && expiresIn <= 0) {
      // Already expired: storing it would only keep a dead record around.
      return this.destroy(id);
    }
    const isGrant = this.#model === 'Grant';
    // The raw id (jti) and user code are bearer secrets: never at rest. The
    // consumed mark lives in its own column, so consume() is one atomic UPDATE.
    const { jti: _jti, userCode, consumed, ...rest } = withoutSessionCookie(this.#model, payload);
    if (consumed !== undefined && typeof consumed !== 'number') rest.consumed = consumed;
    const row = {
      model: this.#model,
      key: await this.#keyOf(id),
      payload: JSON.stringify(rest),
      // a Grant row carries its own (non-secret) id so it can be listed
      grant_id: isGrant ? id : payload.grantId ?? null,
      uid_key: payload.uid ? tokenDigest(payload.uid) : null,
      user_code_key: userCode ? tokenDigest(userCode) : null,
      account_id: isGrant ? payload.accountId ?? null : null,
      client_id: isGrant ? payload.clientId ?? null : null,
      consumed_at: typeof consumed === 'number' ? consumed : null,
      expires_at: expiryOf(expiresIn),
    };
    // Every column is written: the new version replaces the old one as a whole.
    await this.#knex('token_state').insert(row).onConflict(['model', 'key']).merge();
    if (!id.startsWith(ALIAS_MARK)) this.#recent?.remember(row);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const key = await this.#keyOf(id);
    const recent = id.startsWith(ALIAS_MARK) ? undefined : this.#recent?.lookup(this.#model, key);
    if (recent?.known) return this.#restore(recent.row as TokenStateRow | undefined, id);
    return this.#restore(await this.#findLive({ model: this.#model, key }), id);
  }

  // Session.findByUid only reads the session (accountId, grants), so no jti.
  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#restore(await this.#live().andWhere({ uid_key: tokenDigest(uid) }).first());
  }

  /*
   * oidc-provider saves what this returns (the device flow sets inFlight and
   * accountId on it and upserts it under its jti, which the Interaction keeps),
   * and compares payload.userCode with what the user typed. The raw device code
   * is not stored, so the jti handed out is a fresh random alias that resolves
   * to the record for the record's remaining life (as in the Redis store).
   */
  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const row = await this.#live().andWhere({ user_code_key: tokenDigest(userCode) }).first();
    if (!row) return undefined;
    const alias = ALIAS_MARK + randomBytes(32).toString('base64url');
    await this.#knex('token_state').insert({
      model: aliasModelOf(this.#model),
      key: tokenDigest(alias),
      payload: JSON.stringify({ target: row.key }),
      expires_at: row.expires_at,
    });
    return { ...this.#restore(row), userCode, jti: alias };
  }

  /** Atomic: of N concurrent consumers exactly one finds it unconsumed. */
  async consume(id: string): Promise<void> {
    const key = await this.#keyOf(id);
    const at = epochSeconds();
    const updated = await this.#live()
      .andWhere({ key })
      .whereNull('consumed_at')
      .update({ consumed_at: at });
    if (affectedRows(updated) === 1) {
      this.#recent?.consumed(key, at);
      return;
    }
    const exists = await this.#live().andWhere({ key }).first('key');
    throw new errors.InvalidGrant(exists ? 'grant already consumed' : 'grant not found');
  }

  async destroy(id: string): Promise<void> {
    const key = await this.#keyOf(id);
    await this.#knex('token_state').where({ model: this.#model, key }).delete();
    this.#recent?.deleted(this.#model, key);
  }

  /*
   * oidc-provider calls this on each grantable model's adapter (refresh-token
   * reuse, revocation, logout), so one call removes the grant's tokens of every
   * kind, and puts the JWT access tokens issued under the grant (never stored,
   * only indexed) on the denylist. The Grant row itself is destroyed separately.
   */
  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#revokeJwtsOfGrant(grantId);
    await this.#knex('token_state').where({ grant_id: grantId }).whereIn('model', GRANTABLE).delete();
    this.#recent?.deletedOfGrant(grantId, GRANTABLE_MODELS);
  }
}

export type SqlTokenState = TokenState & { purgeExpired(): Promise<number> };

/**
 * The JTI denylist in SQL. `mirrored` (embedded PGlite only, where one process
 * owns the database and makes every write) also keeps the live entries in
 * memory, loaded once, so that checking a JWT reads no SQL: a PGlite
 * statement costs about 0.4 ms of CPU, the check itself a map lookup. With
 * Postgres other instances write too, so every check reads the table.
 */
function createDenylist(knex: Knex, options: { mirrored: boolean }) {
  const expiresAtMs = (value: Date | string) => new Date(value).getTime();
  const isDenied = batchedLookup({
    idOf: (jti: string) => jti,
    loadMany: async (jtis: string[]) => {
      const { rows } = await knex.raw(
        `select jti from jti_denylist where jti in (${jtis.map(() => '?').join(', ')}) and expires_at > ?`,
        [...jtis, now()],
      ) as { rows: Array<{ jti: string }> };
      return new Map(rows.map(({ jti }) => [jti, true]));
    },
  });

  const mirror = new Map<string, number>(); // jti → expiry (ms)
  let loaded: Promise<void> | undefined;
  const load = () => {
    loaded ??= knex.raw('select jti, expires_at from jti_denylist where expires_at > ?', [now()]).then(
      ({ rows }: { rows: Array<{ jti: string; expires_at: Date | string }> }) => { remember(rows); },
      (error: unknown) => { loaded = undefined; throw error; }, // a store error: try again next time
    );
    return loaded;
  };
  function remember(rows: Array<{ jti: string; expires_at: Date | string }>): void {
    if (!options.mirrored) return;
    for (const { jti, expires_at: expiresAt } of rows) {
      mirror.set(jti, Math.max(mirror.get(jti) ?? 0, expiresAtMs(expiresAt)));
    }
  }

  return {
    remember,
    async add(jti: string, expiresAt: number): Promise<void> {
      if (expiresAt <= epochSeconds()) return;
      const [row] = await knex('jti_denylist').insert({ jti, expires_at: new Date(expiresAt * 1000) })
        .onConflict('jti').merge().returning(['jti', 'expires_at']) as Array<{ jti: string; expires_at: Date | string }>;
      remember([row ?? { jti, expires_at: new Date(expiresAt * 1000) }]);
    },
    async has(jti: string): Promise<boolean> {
      if (!options.mirrored) return (await isDenied(jti)) === true;
      await load();
      const expiry = mirror.get(jti);
      if (expiry === undefined) return false;
      if (expiry > Date.now()) return true;
      mirror.delete(jti);
      return false;
    },
    /** Drops expired entries from memory (the rows go with purgeExpired). */
    forgetExpired(): void {
      const at = Date.now();
      for (const [jti, expiry] of mirror) if (expiry <= at) mirror.delete(jti);
    },
  };
}

/**
 * Token state in the SQL database (embedded mode, or Postgres without Redis).
 * `singleProcess`: this process is the only one using the database (embedded
 * PGlite, guarded by its lock file), so the denylist may be mirrored in memory.
 */
export function createSqlTokenState(knex: Knex, options: { singleProcess?: boolean } = {}): SqlTokenState {
  const grantIdsWhere = async (column: 'account_id' | 'client_id', value: string) => {
    const rows = await knex('token_state').select('grant_id')
      .where({ model: 'Grant', [column]: value })
      .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', now()));
    return rows.map((r: { grant_id: string }) => r.grant_id);
  };

  // One statement copies the grant's live JWT ids onto the denylist. The index
  // is left to expire: a later revocation of the same grant is then a no-op,
  // and a JWT recorded meanwhile is never dropped without being denylisted.
  // Concurrent calls for one grant (the provider revokes every model at once)
  // share one run.
  const denylist = createDenylist(knex, { mirrored: options.singleProcess === true });

  const revokeJwtsOfGrant = coalesceByKey(async (grantId: string) => {
    const { rows } = await knex.raw(`
      insert into jti_denylist (jti, expires_at)
      select jti, max(expires_at) from issued_jwts
       where grant_id = ? and expires_at > ?
       group by jti order by jti
      on conflict (jti) do update set expires_at = greatest(jti_denylist.expires_at, excluded.expires_at)
      returning jti, expires_at`,
    [grantId, now()]) as { rows: Array<{ jti: string; expires_at: Date | string }> };
    denylist.remember(rows);
  });

  const findLive = batchedLookup({ idOf: recordIdOf, loadMany: liveRowsReader(knex) });
  const recent = options.singleProcess ? new RecentRecords() : undefined;
  const adapters = new Map<string, Adapter>();

  return {
    kind: 'sql',
    adapterFactory(model: string) {
      let adapter = adapters.get(model);
      if (!adapter) adapters.set(model, (adapter = new SqlAdapter(model, { knex, revokeJwtsOfGrant, findLive, recent })));
      return adapter;
    },

    denylist: { add: denylist.add, has: denylist.has },

    issuedJwts: {
      async record(grantId, jti, expiresAt) {
        if (expiresAt <= epochSeconds()) return;
        await knex('issued_jwts').insert({ grant_id: grantId, jti, expires_at: new Date(expiresAt * 1000) })
          .onConflict(['grant_id', 'jti']).ignore();
      },
      async list(grantId) {
        const rows = await knex('issued_jwts').where({ grant_id: grantId }).andWhere('expires_at', '>', now());
        return rows.map((r: { jti: string; expires_at: Date | string }) => ({
          jti: r.jti,
          expiresAt: Math.floor(new Date(r.expires_at).getTime() / 1000),
        }));
      },
    },

    grants: {
      ofAccount: (accountId) => grantIdsWhere('account_id', accountId),
      ofClient: (clientId) => grantIdsWhere('client_id', clientId),
    },

    async ping() {
      await knex.raw('select 1');
    },

    async close() {
      // the database belongs to whoever created it
    },

    /** Deletes expired rows; run periodically by the server. */
    async purgeExpired() {
      denylist.forgetExpired();
      recent?.sweep();
      const at = now();
      let removed = 0;
      for (const table of ['token_state', 'jti_denylist', 'issued_jwts']) {
        removed += affectedRows(await knex(table).where('expires_at', '<=', at).delete());
      }
      return removed;
    },
  };
}
