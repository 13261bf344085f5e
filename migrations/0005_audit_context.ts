import type { Knex } from 'knex';

/*
 * Where an audit event came from (the request's client address as the trusted
 * proxies report it, its user agent, its request id, all read from the
 * request's context: src/http/request-context.ts), and the indexes the admin
 * API's filters use: each filter is "this value, newest first", so each index
 * is (value, at). Events recorded before this migration have no context.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.text('ip');
    // bounded by the writer (512 characters): a client chooses its user agent
    t.text('user_agent');
    t.text('request_id');
    t.index(['type', 'at']);
    t.index(['actor', 'at']);
    t.index(['client_id', 'at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.dropIndex(['type', 'at']);
    t.dropIndex(['actor', 'at']);
    t.dropIndex(['client_id', 'at']);
    t.dropColumn('ip');
    t.dropColumn('user_agent');
    t.dropColumn('request_id');
  });
}
