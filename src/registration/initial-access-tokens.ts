import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { tokenDigest } from '../crypto/index.ts';

/*
 * Initial access tokens (RFC 7591 §1.2): what an admin hands to a developer
 * so that one (or N) clients may register themselves while
 * DYNAMIC_REGISTRATION=token. A token is a random value shown once; only its
 * SHA-256 digest is stored and looked up (the digest of a high-entropy value
 * is the lookup key: no comparison of secrets happens in application code).
 * Each registration takes one use with one conditional UPDATE, so N
 * simultaneous registrations with a one-use token make exactly one client.
 */

export const DEFAULT_INITIAL_ACCESS_TOKEN_USES = 1;
export const MAX_INITIAL_ACCESS_TOKEN_USES = 10_000;
/** one day: long enough to hand over, short enough that a forgotten token stops working */
export const DEFAULT_INITIAL_ACCESS_TOKEN_TTL = 86_400;
export const MIN_INITIAL_ACCESS_TOKEN_TTL = 60;
/** 30 days: a token that opens registration for longer is a standing open door */
export const MAX_INITIAL_ACCESS_TOKEN_TTL = 30 * 86_400;

export interface InitialAccessToken {
  readonly id: string;
  readonly uses: number;
  readonly usesLeft: number;
  readonly expiresAt: Date;
  readonly description: string | null;
  readonly createdBy: string | null;
  readonly createdAt: Date;
}

interface Row {
  id: string; token_digest: string; uses: number; uses_left: number; expires_at: Date | string;
  description: string | null; created_by: string | null; created_at: Date | string;
}

const toToken = (row: Row): InitialAccessToken => ({
  id: row.id,
  uses: Number(row.uses),
  usesLeft: Number(row.uses_left),
  expiresAt: new Date(row.expires_at),
  description: row.description,
  createdBy: row.created_by,
  createdAt: new Date(row.created_at),
});

export type InitialAccessTokens = ReturnType<typeof createInitialAccessTokens>;

export function createInitialAccessTokens(knex: Knex) {
  const table = () => knex<Row>('registration_tokens');
  return {
    /** A new token; `token` is its value in clear, the only time it exists outside the caller. */
    async create(input: { uses?: number; ttlSeconds?: number; description?: string; createdBy: string }): Promise<{ token: string; record: InitialAccessToken }> {
      const uses = input.uses ?? DEFAULT_INITIAL_ACCESS_TOKEN_USES;
      const ttl = input.ttlSeconds ?? DEFAULT_INITIAL_ACCESS_TOKEN_TTL;
      if (!Number.isSafeInteger(uses) || uses < 1 || uses > MAX_INITIAL_ACCESS_TOKEN_USES) throw new RangeError(`uses must be 1..${MAX_INITIAL_ACCESS_TOKEN_USES}`);
      if (!Number.isSafeInteger(ttl) || ttl < MIN_INITIAL_ACCESS_TOKEN_TTL || ttl > MAX_INITIAL_ACCESS_TOKEN_TTL) {
        throw new RangeError(`the lifetime must be ${MIN_INITIAL_ACCESS_TOKEN_TTL}..${MAX_INITIAL_ACCESS_TOKEN_TTL} seconds`);
      }
      const token = randomBytes(32).toString('base64url');
      const [row] = await table().insert({
        id: `iat_${randomBytes(9).toString('base64url')}`,
        token_digest: tokenDigest(token),
        uses,
        uses_left: uses,
        expires_at: new Date(Date.now() + ttl * 1000),
        description: input.description ?? null,
        created_by: input.createdBy,
      }).returning('*');
      return { token, record: toToken(row as Row) };
    },

    /** The token a value names, if it can still register a client (not expired, a use left); nothing is taken. */
    async findUsable(token: string): Promise<InitialAccessToken | undefined> {
      const row = await table().where({ token_digest: tokenDigest(token) }).where('uses_left', '>', 0).where('expires_at', '>', new Date()).first();
      return row && toToken(row);
    },

    /**
     * Takes one use of the token, atomically: of simultaneous callers, only as
     * many as it has uses left get its id; the others get undefined.
     */
    async consume(token: string): Promise<string | undefined> {
      const rows = await table()
        .where({ token_digest: tokenDigest(token) })
        .where('uses_left', '>', 0)
        .where('expires_at', '>', new Date())
        .decrement('uses_left', 1)
        .returning('id');
      const [row] = rows as unknown as Array<{ id: string }>;
      return row?.id;
    },

    /** Gives a use back: the registration that took it did not make a client (a store failure after consume). */
    async refund(id: string): Promise<void> {
      await table().where({ id }).whereRaw('uses_left < uses').increment('uses_left', 1);
    },

    async find(id: string): Promise<InitialAccessToken | undefined> {
      const row = await table().where({ id }).first();
      return row && toToken(row);
    },

    /** Newest first; never a token's value (it is not stored) nor its digest. */
    async list(options: { limit: number; offset: number }): Promise<InitialAccessToken[]> {
      return (await table().orderBy('created_at', 'desc').orderBy('id').limit(options.limit).offset(options.offset)).map(toToken);
    },

    /** The token stops working at once. False when there is no such token. */
    async revoke(id: string): Promise<boolean> {
      // `returning` rather than the count: knex-pglite does not report row counts
      return (await table().where({ id }).delete().returning('id')).length > 0;
    },
  };
}
