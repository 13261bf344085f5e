import type { Knex } from 'knex';

/*
 * Whether clients nobody registered by hand (dynamic registration, client ID
 * metadata documents) may receive a resource server's scopes and audience.
 * Absent means nothing: every existing resource server starts without it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resource_servers', (t) => {
    t.boolean('dynamic_clients').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resource_servers', (t) => {
    t.dropColumn('dynamic_clients');
  });
}
