import type { Knex } from 'knex';

/*
 * The lifecycle of clients through the admin API (issue 11):
 *
 * - `disabled`: a disabled client is unknown to the provider at every instance
 *   (the repository hands it out as absent), so it is refused at every
 *   endpoint and its tokens introspect inactive. Absent (false): enabled.
 * - `previous_secret_digest` / `previous_secret_expires_at`: after a secret
 *   rotation with a grace period, the old secret's digest and when it stops
 *   authenticating. Both null: only the current secret authenticates.
 *
 * And, for the grant list: `token_state.last_used_at` (epoch seconds) of a
 * Grant row, when it last issued a token (src/tokens/grant-use.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.boolean('disabled').notNullable().defaultTo(false);
    t.text('previous_secret_digest');
    t.timestamp('previous_secret_expires_at', { useTz: true });
  });
  await knex.schema.alterTable('token_state', (t) => {
    t.integer('last_used_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.dropColumn('disabled');
    t.dropColumn('previous_secret_digest');
    t.dropColumn('previous_secret_expires_at');
  });
  await knex.schema.alterTable('token_state', (t) => {
    t.dropColumn('last_used_at');
  });
}
