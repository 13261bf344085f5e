import type { Knex } from 'knex';

/*
 * Second factors (src/mfa). Each row belongs to one account and goes with it
 * (cascade).
 *
 * mfa_totp             one row per account with TOTP on or being set up. Secrets
 *                      are sealed (AES-256-GCM, KEYS_DIR/mfa-key.json, bound to
 *                      the account id): a dump yields no usable secret.
 *                      `secret_sealed` is the confirmed secret (null until the
 *                      first code confirms one; `confirmed_at` says when);
 *                      `pending_secret_sealed` is a new secret waiting for its
 *                      first code — beside the confirmed one, which keeps
 *                      working until the new one is confirmed (a person who
 *                      starts setting up a new phone and stops half-way is not
 *                      locked out). `last_used_step` is the time step of the
 *                      last accepted code, so a code is accepted once.
 * mfa_recovery_codes   ten single-use codes per account, stored as
 *                      HMAC-SHA256 under the mfa key (never the code).
 * webauthn_credentials passkeys: the credential id and the public key (public
 *                      material only: the private key never leaves the
 *                      authenticator), the sign counter, a name the person chose,
 *                      and the WebAuthn user handle the passkey was created
 *                      with (random per account, src/mfa/passkeys.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('mfa_totp', (t) => {
    t.text('account_id').primary().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('secret_sealed');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('confirmed_at', { useTz: true });
    t.bigInteger('last_used_step');
    t.text('pending_secret_sealed');
    t.timestamp('pending_created_at', { useTz: true });
  });
  await knex.schema.createTable('mfa_recovery_codes', (t) => {
    t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('code_digest').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('used_at', { useTz: true });
    t.primary(['account_id', 'code_digest']);
  });
  await knex.schema.createTable('webauthn_credentials', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('public_key').notNullable();
    t.bigInteger('sign_count').notNullable().defaultTo(0);
    t.jsonb('transports');
    t.text('device_type');
    t.boolean('backed_up');
    t.text('aaguid');
    t.text('user_handle').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.index(['account_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('webauthn_credentials');
  await knex.schema.dropTableIfExists('mfa_recovery_codes');
  await knex.schema.dropTableIfExists('mfa_totp');
}
