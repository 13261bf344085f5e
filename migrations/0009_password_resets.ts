import type { Knex } from 'knex';

/*
 * One-time password reset links (src/account/password-resets.ts). Only the
 * SHA-256 digest of a link's token is stored: a dump of the table opens no
 * account. A link belongs to one account and goes with it (cascade); it is
 * spent when used (`used_at`) and refused after `expires_at`. An account has
 * at most one link that is not used: a new link replaces the previous one.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('password_resets', (t) => {
    t.text('token_digest').primary();
    t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.text('created_by');
    t.index(['account_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('password_resets');
}
