import type { Knex } from 'knex';

/*
 * The rate limits' shared counters when the token state is in SQL without
 * Redis (src/tokens/rate-limit-counters.ts): one row per limit, key and
 * window, named by a digest (never the client_id or address itself), removed
 * by the token state's purge once `expires_at` (epoch ms) has passed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limit_counters', (t) => {
    t.text('name').primary();
    t.bigInteger('total').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_limit_counters');
}
