import type { Knex } from 'knex';
import { seal, unseal } from '../crypto/index.ts';
import type { SecondFactors } from './types.ts';
import { recoveryCodeDigest, recoveryCodeKey } from './recovery-codes.ts';

/*
 * The second factors' rows (migration 0010): mfa_totp, mfa_recovery_codes,
 * and — counted and deleted here, inserted by the passkey service —
 * webauthn_credentials. Works on Postgres and on PGlite alike (plain knex,
 * counts through RETURNING rather than driver row counts).
 *
 * What must happen once happens in one statement whose WHERE clause is the
 * check: a time step is spent by `last_used_step < :step`, a recovery code by
 * `used_at IS NULL`. Of two requests racing with the same code exactly one
 * updates a row; the other updates none and is refused.
 */

interface TotpRow {
  account_id: string;
  secret_sealed: string | null;
  created_at: Date;
  confirmed_at: Date | null;
  last_used_step: string | number | null;
  pending_secret_sealed: string | null;
  pending_created_at: Date | null;
}

export interface TotpState {
  /** the confirmed secret (base32), when TOTP is on */
  secret?: string;
  /** a new secret waiting for its first code */
  pendingSecret?: string;
  /** the sealed form of the waiting secret, to confirm exactly the one that was checked */
  pendingSealed?: string;
}

export type MfaRepository = ReturnType<typeof createMfaRepository>;

export function createMfaRepository(knex: Knex, options: { mfaKey: Buffer }) {
  const { mfaKey } = options;
  const codeKey = recoveryCodeKey(mfaKey);
  const totp = (db: Knex | Knex.Transaction = knex) => db<TotpRow>('mfa_totp');
  const recovery = (db: Knex | Knex.Transaction = knex) => db('mfa_recovery_codes');

  async function replaceRecoveryCodes(trx: Knex.Transaction, accountId: string, codes: string[]): Promise<void> {
    await recovery(trx).where({ account_id: accountId }).delete();
    await recovery(trx).insert(codes.map((code) => ({ account_id: accountId, code_digest: recoveryCodeDigest(codeKey, code) })));
  }

  return {
    /** The account's TOTP secrets, unsealed. Throws when a sealed value does not open (wrong key, row moved). */
    async totpState(accountId: string): Promise<TotpState> {
      const row = await totp().where({ account_id: accountId }).first();
      if (!row) return {};
      return {
        secret: row.secret_sealed && row.confirmed_at ? unseal(mfaKey, row.secret_sealed, accountId) : undefined,
        pendingSecret: row.pending_secret_sealed ? unseal(mfaKey, row.pending_secret_sealed, accountId) : undefined,
        pendingSealed: row.pending_secret_sealed ?? undefined,
      };
    },

    /** A new waiting secret; it replaces one that was waiting and leaves a confirmed one as it is. */
    async savePendingTotp(accountId: string, secret: string): Promise<void> {
      const pending = { pending_secret_sealed: seal(mfaKey, secret, accountId), pending_created_at: knex.fn.now() as unknown as Date };
      await totp().insert({ account_id: accountId, ...pending }).onConflict('account_id').merge(Object.keys(pending) as Array<keyof TotpRow>);
    },

    /**
     * The waiting secret becomes the confirmed one (replacing any earlier),
     * with `step` spent, and `recoveryCodes` replace the account's codes — if
     * the waiting secret is still `pendingSealed` (not replaced meanwhile).
     */
    async confirmTotp(accountId: string, pendingSealed: string, step: number, recoveryCodes: string[]): Promise<boolean> {
      return knex.transaction(async (trx) => {
        const updated = await totp(trx)
          .where({ account_id: accountId, pending_secret_sealed: pendingSealed })
          .update({
            secret_sealed: pendingSealed,
            confirmed_at: knex.fn.now() as unknown as Date,
            last_used_step: step,
            pending_secret_sealed: null,
            pending_created_at: null,
          })
          .returning(['account_id']);
        if (updated.length === 0) return false;
        await replaceRecoveryCodes(trx, accountId, recoveryCodes);
        return true;
      });
    },

    /**
     * Spends a time step of the confirmed secret: false when it, or a later
     * one, was spent already (a replayed code, or an older code after a newer).
     */
    async useTotpStep(accountId: string, step: number): Promise<boolean> {
      const updated = await totp()
        .where({ account_id: accountId })
        .whereNotNull('confirmed_at')
        .where((q) => q.whereNull('last_used_step').orWhere('last_used_step', '<', step))
        .update({ last_used_step: step })
        .returning(['account_id']);
      return updated.length > 0;
    },

    /** Spends an unused recovery code of the account: false when it is not one, or was used. */
    async useRecoveryCode(accountId: string, code: string): Promise<boolean> {
      const digest = recoveryCodeDigest(codeKey, code);
      if (!digest) return false;
      const updated = await recovery()
        .where({ account_id: accountId, code_digest: digest })
        .whereNull('used_at')
        .update({ used_at: knex.fn.now() })
        .returning(['account_id']);
      return updated.length > 0;
    },

    /** The account's recovery codes become `codes`: the previous ones stop working. */
    async replaceRecoveryCodes(accountId: string, codes: string[]): Promise<void> {
      await knex.transaction((trx) => replaceRecoveryCodes(trx, accountId, codes));
    },

    /** TOTP off: its row (confirmed and waiting secrets) and the recovery codes go. */
    async deleteTotp(accountId: string): Promise<void> {
      await knex.transaction(async (trx) => {
        await totp(trx).where({ account_id: accountId }).delete();
        await recovery(trx).where({ account_id: accountId }).delete();
      });
    },

    /** What the account has: a confirmed TOTP secret, passkeys, unused recovery codes. */
    async counts(accountId: string): Promise<SecondFactors> {
      return countsIn(knex, accountId);
    },

    /** Every second factor of the account goes, in one transaction; returns what there was. */
    async deleteAll(accountId: string): Promise<SecondFactors> {
      return knex.transaction(async (trx) => {
        const before = await countsIn(trx, accountId);
        await totp(trx).where({ account_id: accountId }).delete();
        await recovery(trx).where({ account_id: accountId }).delete();
        await trx('webauthn_credentials').where({ account_id: accountId }).delete();
        return before;
      });
    },
  };

  // one statement at a time: a transaction takes no Promise.all
  async function countsIn(trx: Knex | Knex.Transaction, accountId: string): Promise<SecondFactors> {
    const confirmed = await totp(trx).where({ account_id: accountId }).whereNotNull('confirmed_at').whereNotNull('secret_sealed').first('account_id');
    const [codes] = await recovery(trx).where({ account_id: accountId }).whereNull('used_at').count({ count: '*' });
    const [passkeys] = await trx('webauthn_credentials').where({ account_id: accountId }).count({ count: '*' });
    return { totp: !!confirmed, passkeys: Number(passkeys?.count ?? 0), recoveryCodesLeft: Number(codes?.count ?? 0) };
  }
}
