import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { tokenDigest } from '../crypto/index.ts';

/** How long a reset link works when the admin does not say (seconds). */
export const DEFAULT_RESET_LINK_TTL = 30 * 60;
export const MIN_RESET_LINK_TTL = 5 * 60;
export const MAX_RESET_LINK_TTL = 24 * 60 * 60;

/** 256 bits, base64url: 43 characters, no guessing; the shape a link token must have. */
const TOKEN_BYTES = 32;
const DAY_MS = 24 * 60 * 60 * 1000;
export const RESET_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

interface ResetRow { token_digest: string; account_id: string; expires_at: Date | string; used_at: Date | string | null }

export type PasswordResets = ReturnType<typeof createPasswordResets>;

/**
 * One-time password reset links (table password_resets, migration 0009).
 * The token is handed out once and only its digest is kept. A link is usable
 * while it is unused, unexpired and the newest of its account's links; every
 * other state reads as "no such link", so a page can answer all of them alike.
 */
export function createPasswordResets(knex: Knex) {
  const table = () => knex<ResetRow>('password_resets');
  const usable = (digest: string) => table()
    .where({ token_digest: digest })
    .whereNull('used_at')
    .where('expires_at', '>', knex.fn.now());

  return {
    /** A new link for the account; its earlier unused links stop working. */
    async create(accountId: string, options: { ttlSeconds: number; createdBy?: string }): Promise<{ token: string; expiresAt: Date }> {
      const token = randomBytes(TOKEN_BYTES).toString('base64url');
      const expiresAt = new Date(Date.now() + options.ttlSeconds * 1000);
      await knex.transaction(async (trx) => {
        // spent rather than deleted: what was issued stays visible to an operator reading the table
        // for a day; older links of the account go (the table stays as small as the admins' requests)
        await trx('password_resets').where({ account_id: accountId }).whereNull('used_at').update({ used_at: knex.fn.now() });
        await trx('password_resets').where({ account_id: accountId }).where('expires_at', '<', new Date(Date.now() - DAY_MS)).delete();
        await trx('password_resets').insert({ token_digest: tokenDigest(token), account_id: accountId, expires_at: expiresAt, created_by: options.createdBy ?? null });
      });
      return { token, expiresAt };
    },

    /** The account a usable link belongs to, without spending it (the page shows its form). */
    async peek(token: string): Promise<string | undefined> {
      if (!RESET_TOKEN_PATTERN.test(token)) return undefined;
      const row = await usable(tokenDigest(token)).first('account_id');
      return row?.account_id;
    },

    /**
     * Spends a usable link and returns its account, atomically: of two
     * concurrent redemptions exactly one gets the account.
     */
    async redeem(token: string): Promise<string | undefined> {
      if (!RESET_TOKEN_PATTERN.test(token)) return undefined;
      const [row] = await usable(tokenDigest(token)).update({ used_at: knex.fn.now() as unknown as Date }).returning(['account_id']);
      return row?.account_id;
    },
  };
}
