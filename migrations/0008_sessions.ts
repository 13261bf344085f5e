import type { Knex } from 'knex';

/*
 * Sessions listed by account (src/tokens/sql-token-state.ts): Session rows of
 * the SQL token state carry their account id, like Grant rows. Rows written
 * before this migration get it from their payload.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("update token_state set account_id = payload->>'accountId' where model = 'Session' and account_id is null");
  await knex.raw("create index token_state_session_account on token_state (account_id) where model = 'Session'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists token_state_session_account');
  await knex.raw("update token_state set account_id = null where model = 'Session'");
}
