import type { Knex } from 'knex';

/*
 * Signed event webhooks (src/audit/webhooks.ts):
 *
 * - `webhook_subscriptions`: an endpoint and the audit event types it wants.
 *   `secret_sealed` is the signing secret encrypted (AES-256-GCM) with the
 *   key in KEYS_DIR/webhook-key.json: the secret must be usable to sign, so it
 *   cannot be a digest, and a dump of the database alone yields no usable
 *   signing secret.
 * - `webhook_deliveries`: the durable outbox and the delivery log in one. A
 *   row is inserted in the transaction that stores its audit event, so a
 *   queued event survives a restart; it goes when the event goes (retention
 *   purges) and when its subscription is deleted.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_subscriptions', (t) => {
    t.text('id').primary();
    t.text('url').notNullable();
    t.jsonb('events').notNullable();
    t.text('secret_sealed').notNullable();
    t.text('description');
    t.boolean('disabled').notNullable().defaultTo(false);
    t.text('created_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.bigIncrements('id');
    t.text('subscription_id').notNullable().references('id').inTable('webhook_subscriptions').onDelete('CASCADE');
    t.bigInteger('event_id').notNullable().references('id').inTable('audit_events').onDelete('CASCADE');
    // pending (queued or waiting for a retry), delivered, failed (gave up)
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_attempt_at', { useTz: true });
    t.integer('last_status_code');
    t.text('last_error');
    t.timestamp('delivered_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['subscription_id', 'id']);
    t.index(['event_id']);
  });
  await knex.raw('alter table webhook_deliveries add constraint webhook_deliveries_status check (status in (\'pending\', \'delivered\', \'failed\'))');
  // the worker's question: which pending deliveries are due
  await knex.raw("create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('webhook_deliveries');
  await knex.schema.dropTableIfExists('webhook_subscriptions');
}
