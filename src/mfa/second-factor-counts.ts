import type { Knex } from 'knex';
import type { SecondFactors } from './types.ts';

/*
 * What accounts have enrolled, for many accounts in one query: the admin API's
 * user list shows it for a whole page, and a query per user would make a page
 * of 200 users 200 round trips. Read from the tables of migration 0010 as the
 * MFA service writes them: TOTP counts once confirmed (an enrollment still
 * waiting for its first code is not a second factor), recovery codes while
 * unused, passkeys each.
 */

export const NO_SECOND_FACTORS: SecondFactors = Object.freeze({ totp: false, passkeys: 0, recoveryCodesLeft: 0 });

interface CountRow { id: string; totp: boolean; passkeys: string | number; recovery_codes_left: string | number }

/** The second factors of each account given; an id that names no account gets none. */
export async function secondFactorsOfAccounts(knex: Knex, accountIds: readonly string[]): Promise<Map<string, SecondFactors>> {
  const factors = new Map<string, SecondFactors>(accountIds.map((id) => [id, NO_SECOND_FACTORS]));
  if (accountIds.length === 0) return factors;
  const rows = await knex('accounts as a')
    .whereIn('a.id', [...new Set(accountIds)])
    .select(
      'a.id',
      knex.raw('exists (select 1 from mfa_totp t where t.account_id = a.id and t.confirmed_at is not null) as totp'),
      knex.raw('(select count(*) from webauthn_credentials w where w.account_id = a.id) as passkeys'),
      knex.raw('(select count(*) from mfa_recovery_codes r where r.account_id = a.id and r.used_at is null) as recovery_codes_left'),
    ) as CountRow[];
  for (const row of rows) {
    factors.set(row.id, { totp: row.totp === true, passkeys: Number(row.passkeys), recoveryCodesLeft: Number(row.recovery_codes_left) });
  }
  return factors;
}
