import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.text('id').primary();
    t.text('username').notNullable();
    t.text('email');
    t.boolean('email_verified').notNullable().defaultTo(false);
    t.text('name');
    t.jsonb('roles').notNullable().defaultTo('[]');
    t.boolean('disabled').notNullable().defaultTo(false);
    t.text('password_hash');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // usernames are unique regardless of case
  await knex.raw('create unique index accounts_username_lower on accounts (lower(username))');

  await knex.schema.createTable('resource_servers', (t) => {
    t.text('identifier').primary();
    t.text('name').notNullable();
    t.jsonb('scopes').notNullable();
    t.text('token_format').notNullable().defaultTo('jwt');
    t.integer('access_token_ttl').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('clients', (t) => {
    t.text('client_id').primary();
    t.text('name').notNullable();
    // oidc-provider client metadata, without the secret
    t.jsonb('metadata').notNullable();
    // SHA-256 of the secret: a dump of the table yields no usable secret
    t.text('secret_digest');
    t.boolean('first_party').notNullable().defaultTo(false);
    t.jsonb('introspect_for').notNullable().defaultTo('[]');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('audit_events', (t) => {
    t.bigIncrements('id');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('type').notNullable();
    t.text('actor');
    t.text('subject');
    t.text('client_id');
    t.jsonb('details').notNullable().defaultTo('{}');
    t.index(['at']);
    t.index(['subject', 'at']);
  });

  // Token state when no Redis is configured. Keys are digests of token values.
  await knex.schema.createTable('token_state', (t) => {
    t.text('model').notNullable();
    t.text('key').notNullable();
    t.jsonb('payload').notNullable();
    t.text('grant_id');
    t.text('uid_key');
    t.text('user_code_key');
    t.text('account_id');
    t.text('client_id');
    t.integer('consumed_at');
    t.timestamp('expires_at', { useTz: true });
    t.primary(['model', 'key']);
    t.index(['grant_id']);
    t.index(['uid_key']);
    t.index(['user_code_key']);
    t.index(['expires_at']);
  });
  await knex.raw("create index token_state_grant_account on token_state (account_id) where model = 'Grant'");
  await knex.raw("create index token_state_grant_client on token_state (client_id) where model = 'Grant'");

  await knex.schema.createTable('jti_denylist', (t) => {
    t.text('jti').primary();
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
  });

  await knex.schema.createTable('issued_jwts', (t) => {
    t.text('grant_id').notNullable();
    t.text('jti').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
    t.primary(['grant_id', 'jti']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['issued_jwts', 'jti_denylist', 'token_state', 'audit_events', 'clients', 'resource_servers', 'accounts']) {
    await knex.schema.dropTableIfExists(table);
  }
}
