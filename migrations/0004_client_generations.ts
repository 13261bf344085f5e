import type { Knex } from 'knex';

/*
 * Client changes reach every instance at once (src/clients/repository.ts):
 *
 * - `generation`: raised by every change to the row (milliseconds since the
 *   epoch, or the previous value + 1 when that is not larger). A cached copy
 *   of a client older than the generation announced or stored for it is never
 *   used. Existing rows start at 0.
 * - `credentials_set_at`: when the client's current credentials were set (its
 *   creation, or the last replacement of its secret). Access tokens issued
 *   before that second are inactive. Existing rows take their creation time.
 * - `bootstrap_admin`: the admin client that TESSERA_ADMIN_CLIENT_ID /
 *   TESSERA_ADMIN_CLIENT_SECRET (or KEYS_DIR/admin-client.json) define; when
 *   that configuration names another client, this one is removed at start.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.bigInteger('generation').notNullable().defaultTo(0);
    t.timestamp('credentials_set_at', { useTz: true });
    t.boolean('bootstrap_admin').notNullable().defaultTo(false);
  });
  await knex('clients').update({ credentials_set_at: knex.ref('created_at') });
  await knex.schema.alterTable('clients', (t) => {
    t.timestamp('credentials_set_at', { useTz: true }).notNullable().defaultTo(knex.fn.now()).alter();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.dropColumn('generation');
    t.dropColumn('credentials_set_at');
    t.dropColumn('bootstrap_admin');
  });
}
