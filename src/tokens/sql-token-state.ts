import type { Knex } from 'knex';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { tokenDigest } from './digest.ts';
import type { TokenState } from './types.ts';

interface TokenStateRow {
  model: string; key: string; payload: AdapterPayload | string; grant_id: string | null;
  uid_key: string | null; user_code_key: string | null; account_id: string | null; client_id: string | null;
  consumed_at: number | null; expires_at: Date | null;
}

const epochSeconds = () => Math.floor(Date.now() / 1000);
const expiryOf = (expiresIn?: number) => (typeof expiresIn === 'number' ? new Date(Date.now() + expiresIn * 1000) : null);
const parsePayload = (payload: AdapterPayload | string): AdapterPayload => (typeof payload === 'string' ? JSON.parse(payload) : payload);

/** The payload as stored: no raw token value (jti, userCode) at rest. */
function storablePayload(payload: AdapterPayload): AdapterPayload {
  const { jti, userCode, ...rest } = payload;
  return rest;
}

/** oidc-provider adapter over the token_state table. */
class SqlAdapter implements Adapter {
  readonly #knex: Knex;
  readonly #model: string;

  constructor(knex: Knex, model: string) {
    this.#knex = knex;
    this.#model = model;
  }

  #live() {
    return this.#knex<TokenStateRow>('token_state')
      .where({ model: this.#model })
      .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', new Date()));
  }

  #restore(row: TokenStateRow | undefined, id?: string): AdapterPayload | undefined {
    if (!row) return undefined;
    const payload = parsePayload(row.payload);
    if (row.consumed_at) payload.consumed = row.consumed_at;
    return id === undefined ? payload : { ...payload, jti: id };
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const isGrant = this.#model === 'Grant';
    const row = {
      model: this.#model,
      key: tokenDigest(id),
      payload: JSON.stringify(storablePayload(payload)),
      // a Grant row carries its own (non-secret) id so it can be listed
      grant_id: isGrant ? id : payload.grantId ?? null,
      uid_key: payload.uid ? tokenDigest(payload.uid) : null,
      user_code_key: payload.userCode ? tokenDigest(payload.userCode) : null,
      account_id: isGrant ? payload.accountId ?? null : null,
      client_id: isGrant ? payload.clientId ?? null : null,
      consumed_at: typeof payload.consumed === 'number' ? payload.consumed : null,
      expires_at: expiryOf(expiresIn),
    };
    await this.#knex('token_state').insert(row).onConflict(['model', 'key']).merge();
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.#restore(await this.#live().andWhere({ key: tokenDigest(id) }).first(), id);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#restore(await this.#live().andWhere({ uid_key: tokenDigest(uid) }).first());
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#restore(await this.#live().andWhere({ user_code_key: tokenDigest(userCode) }).first());
  }

  /** Atomic: of N concurrent consumers exactly one finds it unconsumed. */
  async consume(id: string): Promise<void> {
    const updated = await this.#live()
      .andWhere({ key: tokenDigest(id) })
      .whereNull('consumed_at')
      .update({ consumed_at: epochSeconds() });
    if (updated !== 1) throw new errors.InvalidGrant('grant already consumed');
  }

  async destroy(id: string): Promise<void> {
    await this.#knex('token_state').where({ model: this.#model, key: tokenDigest(id) }).delete();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#knex('token_state').where({ model: this.#model, grant_id: grantId }).delete();
  }
}

export type SqlTokenState = TokenState & { purgeExpired(): Promise<number> };

/** Token state in the SQL database (embedded mode, or Postgres without Redis). */
export function createSqlTokenState(knex: Knex): SqlTokenState {
  const now = () => new Date();
  const grantIdsWhere = async (column: 'account_id' | 'client_id', value: string) => {
    const rows = await knex('token_state').select('grant_id')
      .where({ model: 'Grant', [column]: value })
      .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', now()));
    return rows.map((r: { grant_id: string }) => r.grant_id);
  };

  return {
    kind: 'sql',
    adapterFactory: (model: string) => new SqlAdapter(knex, model),

    denylist: {
      async add(jti, expiresAt) {
        if (expiresAt <= epochSeconds()) return;
        await knex('jti_denylist').insert({ jti, expires_at: new Date(expiresAt * 1000) }).onConflict('jti').merge();
      },
      async has(jti) {
        return !!(await knex('jti_denylist').where({ jti }).andWhere('expires_at', '>', now()).first());
      },
    },

    issuedJwts: {
      async record(grantId, jti, expiresAt) {
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
      const at = now();
      let removed = 0;
      removed += await knex('token_state').where('expires_at', '<=', at).delete();
      removed += await knex('jti_denylist').where('expires_at', '<=', at).delete();
      removed += await knex('issued_jwts').where('expires_at', '<=', at).delete();
      return removed;
    },
  };
}
