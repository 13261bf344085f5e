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
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.boolean('disabled').notNullable().defaultTo(false);
    t.text('previous_secret_digest');
    t.timestamp('previous_secret_expires_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.dropColumn('disabled');
    t.dropColumn('previous_secret_digest');
    t.dropColumn('previous_secret_expires_at');
  });
}
