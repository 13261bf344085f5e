// Issue 9, done means 4: upgrading a database whose clients have no scope list
// keeps them working, minus `admin` — the migration writes out what each could
// obtain before, and says so in the audit log.
import { describe, test, expect, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { migrations } from '../../migrations/index.ts';
import { createDatabase, type Database } from '../../src/db/index.ts';
import { digestClientSecret } from '../../src/clients/index.ts';
import { startTestServer } from '../support/server.ts';
import { tokenRequest } from '../support/oauth.ts';
import { adminTokenRequest } from '../admin/admin-api.ts';
import { describeWithService, postgresUp, POSTGRES_URL } from '../support/services.ts';

const API = 'https://api.legacy.test';
const LEGACY_SECRET = randomBytes(32).toString('base64url');

const migrationSource: Knex.MigrationSource<(typeof migrations)[number]> = {
  getMigrations: async () => migrations,
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => migration.module,
};

/** A database as the first release left it: schema 0001, a resource server, a client registered without --scopes. */
async function legacyDatabase(knex: Knex): Promise<void> {
  await knex.migrate.up({ migrationSource, name: '0001_initial' });
  await knex('resource_servers').insert({ identifier: API, name: API, scopes: JSON.stringify(['read', 'write', 'admin']), token_format: 'jwt', access_token_ttl: 600 });
  // exactly what clientMetadataOf wrote before this release for a client without a scope list
  const metadata = {
    client_id: 'legacy-job', client_name: 'legacy job', grant_types: ['client_credentials'], response_types: [],
    redirect_uris: [], post_logout_redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic',
  };
  await knex('clients').insert({ client_id: 'legacy-job', name: 'legacy job', metadata: JSON.stringify(metadata), secret_digest: digestClientSecret(LEGACY_SECRET), first_party: false, introspect_for: '[]' });
  // and one with an explicit list, which the migration leaves alone
  await knex('clients').insert({ client_id: 'explicit', name: 'explicit', metadata: JSON.stringify({ ...metadata, client_id: 'explicit', allowed_scopes: ['read'] }), first_party: false, introspect_for: '[]' });
}

async function expectMigrated(knex: Knex): Promise<void> {
  await knex.migrate.latest({ migrationSource });
  const parse = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);
  const legacy = parse((await knex('clients').where({ client_id: 'legacy-job' }).first()).metadata);
  expect([...legacy.allowed_scopes].sort()).toEqual(['email', 'offline_access', 'openid', 'profile', 'read', 'roles', 'write']);
  expect(legacy.allowed_scopes).not.toContain('admin');
  const explicit = parse((await knex('clients').where({ client_id: 'explicit' }).first()).metadata);
  expect(explicit.allowed_scopes).toEqual(['read']);
  const events = await knex('audit_events').where({ type: 'client.scopes_made_explicit' });
  expect(events.map((e: { subject: string }) => e.subject)).toEqual(['legacy-job']);
}

describe('migration 0002 on embedded PGlite', () => {
  test('writes out the scopes a listless client could obtain, except admin', async () => {
    const db = await createDatabase({ inMemory: true });
    try {
      await legacyDatabase(db.knex);
      await expectMigrated(db.knex);
    } finally {
      await db.close();
    }
  });
});

describeWithService('Postgres', await postgresUp())('migration 0002 on Postgres, then a server on the upgraded database', () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  let db: Database | undefined;
  afterAll(async () => {
    await db?.knex.raw('drop schema if exists ?? cascade', [schema]);
    await db?.close();
  });

  test('the upgraded client still gets its API tokens, and no longer an admin token', async () => {
    db = await createDatabase({ databaseUrl: POSTGRES_URL, schema });
    await legacyDatabase(db.knex);
    const server = await startTestServer({ database: 'postgres', schema });
    try {
      await expectMigrated(db.knex);
      const client = { clientId: 'legacy-job', clientSecret: LEGACY_SECRET };
      const api = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: API, scope: 'read write admin' }, client);
      expect(api.status).toBe(200);
      expect(api.body.scope).toBe('read write');
      const admin = await adminTokenRequest(server, client, 'admin');
      expect(admin.status).toBe(400);
      expect(admin.body.error).toBe('invalid_target');
    } finally {
      await server.stop({ keep: true });
    }
  });
});
