import type { Knex } from 'knex';

/*
 * Dynamic client registration (RFC 7591/7592, src/registration).
 *
 * registration_tokens: the initial access tokens admins issue. Only the
 * SHA-256 digest of a token is stored (a dump of the table registers no
 * client); `uses_left` is taken one at a time by a conditional update, so N
 * simultaneous registrations with a one-use token make exactly one client.
 *
 * clients: whether a client registered itself (`dynamically_registered`, so
 * admins can find and delete such clients), who let it (`registered_by`: an
 * initial access token's id, or `anonymous` in open mode) and the digest of
 * its registration access token (RFC 7592), which reads, replaces and deletes
 * that one registration.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('registration_tokens', (t) => {
    t.text('id').primary();
    t.text('token_digest').notNullable().unique();
    t.integer('uses').notNullable();
    t.integer('uses_left').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.text('description');
    t.text('created_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.alterTable('clients', (t) => {
    t.boolean('dynamically_registered').notNullable().defaultTo(false);
    t.text('registered_by');
    t.text('registration_access_token_digest');
    t.index(['dynamically_registered']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.dropIndex(['dynamically_registered']);
    t.dropColumn('registration_access_token_digest');
    t.dropColumn('registered_by');
    t.dropColumn('dynamically_registered');
  });
  await knex.schema.dropTableIfExists('registration_tokens');
}
