/*
 * The admin API's changes of what exists (issue 11): PATCH of users, clients
 * and resource servers (unknown fields and wrong types refused, each named),
 * enable, delete, set-password, secret rotation and disabling with the
 * refusals that keep an admin from locking itself out, the grant list's
 * client name and last use, and key rotation through the API. One server on
 * embedded PGlite; the two-instance revocation paths are in
 * test/integration/admin-revocation.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readAdminCredentials } from '../../src/admin/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminToken, call } from './admin-api.ts';
import { clientCredentials, codeFlow, REDIRECT_URI } from '../tokens/token-flows.ts';

const API = 'https://api.lifecycle.test';
const PASSWORD = 'a long and unguessable passphrase';

describe('admin API: update, enable, delete, set-password, rotate, disable, keys', () => {
  let server: TestServer;
  let token: string;
  let adminId: string;

  beforeAll(async () => {
    server = await startTestServer();
    token = await adminToken(server);
    adminId = readAdminCredentials(server.config.keysDir, {})!.client_id;
    await server.services.resources.create({ identifier: API, scopes: ['read', 'write'] });
  });
  afterAll(async () => { await server?.stop(); });

  const audit = async (type: string) => (await server.services.audit.list({ type, limit: 50, offset: 0 }));

  test('PATCH /users changes e-mail, name and roles; absent fields stay; a new e-mail is unverified', async () => {
    const created = await call(server, token, 'POST', '/users', { username: 'patchy', email: 'patchy@example.com', name: 'Pat', roles: ['staff'], password: PASSWORD });
    expect(created.status).toBe(201);
    const patched = await call(server, token, 'PATCH', '/users/patchy', { email: 'new@example.com', roles: ['staff', 'ops'] });
    expect(patched).toMatchObject({ status: 200, body: { username: 'patchy', email: 'new@example.com', email_verified: false, name: 'Pat', roles: ['staff', 'ops'] } });
    const cleared = await call(server, token, 'PATCH', `/users/${created.body.id}`, { name: null });
    expect(cleared.body).toMatchObject({ name: null, email: 'new@example.com' });
    const [event] = await audit('user.updated');
    expect(event).toMatchObject({ actor: adminId, subject: created.body.id, details: { fields: ['name'] } });
  });

  test('update endpoints refuse unknown fields and wrong types with problem+json naming each field', async () => {
    const bad = await call(server, token, 'PATCH', '/users/patchy', { email: 42, roles: 'admin', password: 'sneaky', is_admin: true });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const fields = (bad.body.errors as Array<{ field: string; message: string }>).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['email', 'roles', 'password', 'is_admin']));
    expect(bad.body.errors).toEqual(expect.arrayContaining([{ field: 'is_admin', message: 'is not a known field' }]));
    expect((await call(server, token, 'PATCH', '/users/patchy', {})).status).toBe(400);

    const client = await server.createClient({ name: 'patch me', grantTypes: ['client_credentials'], scopes: ['read'] });
    const badClient = await call(server, token, 'PATCH', `/clients/${client.clientId}`, { name: 7, client_secret: 'mine', public: true, scopes: 'read' });
    expect(badClient.status).toBe(400);
    expect((badClient.body.errors as Array<{ field: string }>).map((e) => e.field)).toEqual(expect.arrayContaining(['name', 'client_secret', 'public', 'scopes']));

    const badResource = await call(server, token, 'PATCH', `/resources/${encodeURIComponent(API)}`, { identifier: 'https://other.test', access_token_ttl: '60' });
    expect(badResource.status).toBe(400);
    expect((badResource.body.errors as Array<{ field: string }>).map((e) => e.field)).toEqual(expect.arrayContaining(['identifier', 'access_token_ttl']));
  });

  test('users enable; set-password replaces the password; delete erases the account and scrubs its name from the audit log', async () => {
    const created = await call(server, token, 'POST', '/users', { username: 'leaving', email: 'leaving@example.com', name: 'Lee Ving', password: PASSWORD });
    const id = created.body.id as string;
    expect((await call(server, token, 'POST', '/users/leaving/disable', {})).body).toMatchObject({ user: { disabled: true } });
    expect((await call(server, token, 'POST', '/users/leaving/enable', {})).body).toMatchObject({ disabled: false });
    expect((await audit('user.enabled'))[0]).toMatchObject({ subject: id, actor: adminId });

    const set = await call(server, token, 'POST', '/users/leaving/password', { password: 'the replacement passphrase' });
    expect(set).toMatchObject({ status: 200, body: { id, revoked_grants: 0, ended_sessions: 0 } });
    expect(JSON.stringify((await audit('user.password_set'))[0])).not.toMatch(/replacement/);
    const signIn = (password: string) => server.services.verifyCredentials('leaving', password, { ip: '127.0.0.1' });
    expect(await signIn('the replacement passphrase')).toMatchObject({ ok: true });
    expect(await signIn(PASSWORD)).toMatchObject({ ok: false });
    expect((await call(server, token, 'POST', '/users/leaving/password', { password: 'short' })).status).toBe(400);

    expect(JSON.stringify((await audit('user.created')).find((e) => e.subject === id))).toMatch(/leaving/);
    const deleted = await call(server, token, 'DELETE', '/users/leaving');
    expect(deleted).toMatchObject({ status: 200, body: { id, deleted: true } });
    expect((await call(server, token, 'GET', `/users/${id}`)).status).toBe(404);
    expect((await call(server, token, 'DELETE', `/users/${id}`)).status).toBe(404);
    // the id stays; the username, e-mail and name about it are gone from every event
    const events = await server.services.audit.list({ subjects: [id], limit: 50, offset: 0 });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['user.created', 'user.disabled', 'user.deleted']));
    expect(JSON.stringify(events)).not.toMatch(/leaving|Lee Ving|l\*\*\*@/);
    // the username is free again
    expect((await call(server, token, 'POST', '/users', { username: 'leaving', password: PASSWORD })).status).toBe(201);
  });

  test('PATCH /clients: the same checks as create; the audit names the changed fields and a widening to admin', async () => {
    const client = await server.createClient({ name: 'changing', grantTypes: ['client_credentials'], scopes: ['read'] });
    const path = `/clients/${client.clientId}`;
    const patched = await call(server, token, 'PATCH', path, { name: 'changed', scopes: ['read', 'write'], introspect_for: [API] });
    expect(patched).toMatchObject({ status: 200, body: { name: 'changed', scopes: ['read', 'write'], introspect_for: [API], grant_types: ['client_credentials'] } });
    const [updated] = await audit('client.updated');
    expect(updated.subject).toBe(client.clientId);
    expect([...(updated.details.fields as string[])].sort()).toEqual(['introspect_for', 'name', 'scopes']);

    expect(await call(server, token, 'PATCH', path, { scopes: ['nonexistent'] })).toMatchObject({ status: 400, body: { errors: [{ field: 'scopes' }] } });
    expect(await call(server, token, 'PATCH', path, { grant_types: ['implicit'] })).toMatchObject({ status: 400, body: { errors: [{ field: 'grant_types' }] } });
    expect(await call(server, token, 'PATCH', path, { grant_types: ['password'] })).toMatchObject({ status: 400 });
    // the provider's own validation: an authorization_code client needs redirect URIs
    expect(await call(server, token, 'PATCH', path, { grant_types: ['authorization_code'] })).toMatchObject({ status: 400 });
    expect((await call(server, token, 'GET', path)).body).toMatchObject({ name: 'changed', grant_types: ['client_credentials'] });

    await call(server, token, 'PATCH', path, { scopes: ['read', 'admin'] });
    expect((await audit('client.updated'))[0]).toMatchObject({ details: { grants_admin: true } });
    expect((await call(server, token, 'PATCH', '/clients/nope', { name: 'x' })).status).toBe(404);
  });

  test('the calling admin client cannot lock itself out: no self-disable, self-rotation, or taking admin away from itself', async () => {
    const self = `/clients/${encodeURIComponent(adminId)}`;
    expect((await call(server, token, 'POST', `${self}/disable`, {})).status).toBe(409);
    expect((await call(server, token, 'POST', `${self}/rotate-secret`, {})).status).toBe(409);
    expect((await call(server, token, 'PATCH', self, { scopes: ['read'] })).status).toBe(409);
    expect((await call(server, token, 'POST', '/grants/revoke', { client: adminId })).status).toBe(409);
    expect((await call(server, token, 'GET', '/users')).status).toBe(200);

    // another admin may not rotate the configured admin client's secret either: the configuration owns it
    const second = await server.createClient({ name: 'second admin', grantTypes: ['client_credentials'], scopes: ['admin'] });
    const { adminTokenFor } = await import('./admin-api.ts');
    const secondToken = await adminTokenFor(server, second, 'admin');
    expect((await call(server, secondToken, 'POST', `${self}/rotate-secret`, {})).status).toBe(409);
  });

  test('rotate-secret: a public client has none; grace is bounded; the secret is shown once and audited without it', async () => {
    const pub = await server.createClient({ name: 'spa', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], public: true, scopes: ['openid'] });
    expect((await call(server, token, 'POST', `/clients/${pub.clientId}/rotate-secret`, {})).status).toBe(409);
    const job = await server.createClient({ name: 'job', grantTypes: ['client_credentials'], scopes: ['read'] });
    const tooLong = await call(server, token, 'POST', `/clients/${job.clientId}/rotate-secret`, { grace_seconds: 8 * 24 * 3600 });
    expect(tooLong).toMatchObject({ status: 400, body: { errors: [{ field: 'grace_seconds' }] } });
    const rotated = await call(server, token, 'POST', `/clients/${job.clientId}/rotate-secret`, { grace_seconds: 60 });
    expect(rotated.status).toBe(200);
    expect(typeof rotated.body.client_secret).toBe('string');
    expect((await call(server, token, 'GET', `/clients/${job.clientId}`)).body.client_secret).toBeUndefined();
    const [event] = await audit('client.secret_rotated');
    expect(event).toMatchObject({ subject: job.clientId, details: { grace_seconds: 60 } });
    expect(JSON.stringify(event)).not.toContain(rotated.body.client_secret);
  });

  test('PATCH /resources: name, scopes, format, lifetime; reserved scopes refused; audited with the scopes removed', async () => {
    const path = `/resources/${encodeURIComponent(API)}`;
    const patched = await call(server, token, 'PATCH', path, { name: 'The API', scopes: ['read'], token_format: 'opaque', access_token_ttl: 600 });
    expect(patched).toMatchObject({ status: 200, body: { identifier: API, name: 'The API', scopes: ['read'], token_format: 'opaque', access_token_ttl: 600 } });
    expect((await audit('resource.updated'))[0]).toMatchObject({ subject: API, details: { removed_scopes: ['write'] } });
    expect(await call(server, token, 'PATCH', path, { scopes: ['admin'] })).toMatchObject({ status: 400, body: { errors: [{ field: 'scopes' }] } });
    expect((await call(server, token, 'PATCH', `/resources/${encodeURIComponent('https://none.test')}`, { name: 'x' })).status).toBe(404);
    await call(server, token, 'PATCH', path, { scopes: ['read', 'write'], token_format: 'jwt' });
  });

  test('the grant list shows the client name, when the grant was made and when it was last used', async () => {
    const app = await server.createClient({ name: 'Listed App', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scopes: ['openid', 'offline_access'] });
    await server.createUser({ username: 'lister', password: PASSWORD });
    await codeFlow({ baseUrl: server.url, client: app, user: { username: 'lister', password: PASSWORD }, scope: 'openid offline_access' });
    const list = await call(server, token, 'GET', '/grants?user=lister');
    expect(list.status).toBe(200);
    const [grant] = list.body.items;
    expect(grant).toMatchObject({ client_id: app.clientId, client_name: 'Listed App', scopes: expect.arrayContaining(['openid', 'offline_access']) });
    expect(Date.parse(grant.created_at)).toBeLessThanOrEqual(Date.now());
    expect(Math.abs(Date.parse(grant.last_used_at) - Date.now())).toBeLessThan(120_000);
  });

  test('keys through the API: stage, activate, retire on KEYS_DIR, each audited; a step out of order is a 409', async () => {
    const file = join(server.config.keysDir, 'signing-keys.json');
    expect(existsSync(file)).toBe(true);
    expect((await call(server, token, 'POST', '/keys/activate', {})).status).toBe(409);
    const staged = await call(server, token, 'POST', '/keys/rotate', {});
    expect(staged).toMatchObject({ status: 200, body: { step: 'stage', restart_required: true } });
    expect(staged.body.changed.every((k: { status: string }) => k.status === 'next')).toBe(true);
    expect(JSON.stringify(staged.body)).not.toMatch(/"d":/);
    expect((await call(server, token, 'POST', '/keys/rotate', { stage: true })).status).toBe(409);
    const activated = await call(server, token, 'POST', '/keys/activate', {});
    expect(activated).toMatchObject({ status: 200, body: { step: 'activate' } });
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { keys: Array<{ status: string }> } | Array<{ status: string }>;
    expect(JSON.stringify(stored)).toMatch(/"previous"/);
    const retired = await call(server, token, 'POST', '/keys/retire', { force: true });
    expect(retired).toMatchObject({ status: 200, body: { step: 'retire' } });
    expect(retired.body.changed.length).toBeGreaterThan(0);
    expect((await audit('keys.rotated')).map((e) => e.details.step)).toEqual(['retire', 'activate', 'stage']);
    expect((await call(server, token, 'POST', '/keys/retire', { force: 'yes' })).status).toBe(400);
    // this server still signs with the keys it loaded at start
    expect((await call(server, token, 'GET', '/keys')).status).toBe(200);
    expect(await clientCredentials(server.url, await server.createClient({ name: 'after rotation', grantTypes: ['client_credentials'], scopes: ['read'] }), API, 'read')).toBeTruthy();
  });
});
