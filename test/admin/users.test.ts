import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp } from '../support/services.ts';
import { adminToken, call, createGrant } from './admin-api.ts';

const hasPostgres = await postgresUp();

function userSuite(database: 'memory' | 'postgres') {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ database });
    token = await adminToken(server);
  });
  afterAll(async () => { await server?.stop(); });

  const signIn = (username: string, password: string) => server.services.verifyCredentials(username, password, { ip: '127.0.0.1' });

  test('create → 201 without any hash; get by username and id; list', async () => {
    const created = await call(server, token, 'POST', '/users', { username: 'alice', email: 'alice@example.com', name: 'Alice', roles: ['staff'], password: 'correct horse' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username: 'alice', email: 'alice@example.com', name: 'Alice', roles: ['staff'], disabled: false });
    expect(JSON.stringify(created.body)).not.toMatch(/argon2|password|hash/i);

    const byName = await call(server, token, 'GET', '/users/alice');
    const byId = await call(server, token, 'GET', `/users/${created.body.id}`);
    expect(byName.body).toEqual(created.body);
    expect(byId.body).toEqual(created.body);
    expect((await call(server, token, 'GET', '/users/nobody')).status).toBe(404);

    const list = await call(server, token, 'GET', '/users');
    expect(list.body.items.map((u: { username: string }) => u.username)).toContain('alice');
    expect(await signIn('alice', 'correct horse')).toMatchObject({ ok: true });
  });

  test('a taken username → 409 (whatever its case)', async () => {
    const res = await call(server, token, 'POST', '/users', { username: 'ALICE', password: 'another password' });
    expect(res.status).toBe(409);
    expect(res.body.errors).toEqual([{ field: 'username', message: 'is already taken' }]);
  });

  test('a username that looks like an existing one → 409, in create and in import; nothing is created', async () => {
    await call(server, token, 'POST', '/users', { username: 'bill', password: 'bill password' });
    for (const lookalike of ['biII', 'bi1l', 'BiII']) { // capital i, digit one
      const res = await call(server, token, 'POST', '/users', { username: lookalike, password: 'another password' });
      expect(res.status).toBe(409);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.errors).toEqual([{ field: 'username', message: 'looks like an existing username' }]);
    }
    const imported = await call(server, token, 'POST', '/users/import', { users: [{ username: 'bi11', password_hash: bcrypt.hashSync('x', 4) }] });
    expect(imported.body.results[0]).toMatchObject({ status: 'conflict', errors: [{ field: 'username', message: 'looks like an existing username' }] });
    for (const lookalike of ['biII', 'bi1l', 'BiII', 'bi11']) expect(await server.services.accounts.findByUsername(lookalike)).toBeUndefined();
  });

  test('disable → the user cannot sign in and every grant of theirs is revoked', async () => {
    const user = (await call(server, token, 'POST', '/users', { username: 'carol', password: 'carol password' })).body;
    const { clientId } = await server.createClient({ name: 'app', grantTypes: ['client_credentials'] });
    const grants = [await createGrant(server, user.id, clientId), await createGrant(server, user.id, clientId)];
    expect((await call(server, token, 'GET', '/grants?user=carol')).body.items).toHaveLength(2);

    const res = await call(server, token, 'POST', '/users/carol/disable');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: { username: 'carol', disabled: true }, revoked_grants: 2 });
    for (const id of grants) expect(await server.provider.Grant.find(id)).toBeUndefined();
    expect((await call(server, token, 'GET', '/grants?user=carol')).body.items).toHaveLength(0);
    expect(await signIn('carol', 'carol password')).toMatchObject({ ok: false });
    expect((await call(server, token, 'POST', '/users/nobody/disable')).status).toBe(404);
  });

  test('import: argon2id and bcrypt ($2a$, $2b$, $2y$) hashes; bad lines and conflicts reported per line', async () => {
    const argon = await argon2.hash('argon password', { type: argon2.argon2id, memoryCost: 8192, timeCost: 1 });
    const bcryptB = bcrypt.hashSync('bcrypt password', 4);
    const bcryptY = bcrypt.hashSync('bcrypt-y password', 4).replace(/^\$2b\$/, '$2y$');
    const bcryptA = bcrypt.hashSync('bcrypt-a password', 4).replace(/^\$2b\$/, '$2a$');
    const res = await call(server, token, 'POST', '/users/import', {
      users: [
        { username: 'imported-argon', email: 'ia@example.com', password_hash: argon, roles: ['a'] },
        { username: 'imported-bcrypt', password_hash: bcryptB },
        { username: 'imported-2y', password_hash: bcryptY },
        { username: 'bad hash', password_hash: '$1$md5$notsupported' },
        { username: 'plain', password_hash: 'just-a-password-in-clear' },
        { username: 'alice', password_hash: bcryptB },
        'not an object',
        { username: 'imported-2a', password_hash: bcryptA },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ imported: 4, failed: 4 });
    const byIndex = Object.fromEntries(res.body.results.map((r: { index: number }) => [r.index, r]));
    expect(byIndex[0]).toMatchObject({ username: 'imported-argon', status: 'imported' });
    expect(byIndex[1]).toMatchObject({ status: 'imported' });
    expect(byIndex[2]).toMatchObject({ status: 'imported' });
    expect(byIndex[3]).toMatchObject({ status: 'invalid' });
    expect(byIndex[3].errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(['username']));
    expect(byIndex[4]).toMatchObject({ status: 'invalid', errors: [{ field: 'password_hash' }] });
    expect(byIndex[5]).toMatchObject({ status: 'conflict', errors: [{ field: 'username', message: 'is already taken' }] });
    expect(byIndex[6]).toMatchObject({ status: 'invalid', errors: [{ field: '(body)' }] });
    expect(byIndex[7]).toMatchObject({ username: 'imported-2a', status: 'imported' });

    expect(await signIn('imported-argon', 'argon password')).toMatchObject({ ok: true });
    expect(await signIn('imported-bcrypt', 'bcrypt password')).toMatchObject({ ok: true });
    expect(await signIn('imported-2y', 'bcrypt-y password')).toMatchObject({ ok: true });
    expect(await signIn('imported-2a', 'bcrypt-a password')).toMatchObject({ ok: true });
    expect(await signIn('imported-bcrypt', 'wrong')).toMatchObject({ ok: false });
    // bcrypt is upgraded to argon2id at the first sign-in
    const stored = await server.services.accounts.findCredentials('imported-bcrypt');
    expect(stored?.passwordHash).toMatch(/^\$argon2id\$/);
  });

  test('every mutation is audited, with no secret, hash or clear e-mail', async () => {
    const audit = await call(server, token, 'GET', '/audit?limit=200');
    const types = audit.body.items.map((e: { type: string }) => e.type);
    expect(types).toEqual(expect.arrayContaining(['user.created', 'user.disabled', 'user.imported']));
    const text = JSON.stringify(audit.body);
    expect(text).not.toMatch(/\$argon2|\$2[aby]\$|correct horse|password/);
    expect(text).not.toContain('alice@example.com');
    expect(text).toContain('a***@example.com');
    // admin actions name their actor (a failed sign-in has none: who tried is not known)
    for (const event of audit.body.items.filter((e: { type: string }) => e.type.startsWith('user.'))) expect(event.actor).toBeTruthy();
  });
}

describe('admin users (embedded database)', () => userSuite('memory'));
describeWithService('Postgres', hasPostgres)('admin users (Postgres)', () => userSuite('postgres'));
