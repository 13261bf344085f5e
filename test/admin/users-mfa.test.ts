// The admin API's view of second factors: every user representation says what
// is enrolled (`mfa`), the list reads it for a whole page in one query, and
// POST /users/{id}/mfa/reset removes every second factor, audited as mfa.reset
// with the admin client as the actor. TOTP is enrolled through the real MFA
// service with codes from an independent TOTP implementation (otpauth).
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import { readAdminCredentials } from '../../src/admin/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp } from '../support/services.ts';
import { adminToken, call } from './admin-api.ts';

const CONTEXT = { ip: '127.0.0.1', via: 'account' as const };
const NONE = { totp: false, passkeys: 0, recovery_codes_left: 0 };

async function enrollTotp(server: TestServer, accountId: string): Promise<string[]> {
  const enrollment = await server.services.mfa.startTotpEnrollment(accountId);
  const code = (OTPAuth.URI.parse(enrollment.otpauthUri) as OTPAuth.TOTP).generate();
  const confirmed = await server.services.mfa.confirmTotpEnrollment(accountId, code, CONTEXT);
  if (!confirmed.ok) throw new Error(`the first code was refused: ${confirmed.reason}`);
  return confirmed.recoveryCodes;
}

/**
 * A passkey row as the passkey service stores one (public material only). The
 * row is written directly: what is counted here is rows, and the passkey
 * service (with its WebAuthn ceremony) is tested on its own.
 */
async function addPasskeyRow(server: TestServer, accountId: string): Promise<void> {
  await server.db.knex('webauthn_credentials').insert({
    id: randomBytes(16).toString('base64url'), account_id: accountId, name: 'test key', public_key: randomBytes(65).toString('base64url'), user_handle: randomBytes(32).toString('base64url'),
  });
}

function suite(database: 'memory' | 'postgres') {
  let server: TestServer;
  let token: string;
  let adminClientId: string;
  beforeAll(async () => {
    server = await startTestServer({ database });
    token = await adminToken(server);
    adminClientId = readAdminCredentials(server.config.keysDir, {})!.client_id;
  });
  afterAll(async () => { await server?.stop(); });

  test('a user says what is enrolled: none at first; TOTP with its recovery codes, passkeys; never a secret', async () => {
    const created = await call(server, token, 'POST', '/users', { username: 'mfa-wendy', password: 'wendy password' });
    expect(created.status).toBe(201);
    expect(created.body.mfa).toEqual(NONE);
    const id = created.body.id as string;

    const recoveryCodes = await enrollTotp(server, id);
    await server.services.mfa.verifyCode(id, recoveryCodes[0], { ...CONTEXT, via: 'login_page' });
    await addPasskeyRow(server, id);
    await addPasskeyRow(server, id);

    const shown = await call(server, token, 'GET', '/users/mfa-wendy');
    expect(shown.status).toBe(200);
    expect(shown.body.mfa).toEqual({ totp: true, passkeys: 2, recovery_codes_left: 9 });
    const text = JSON.stringify(shown.body);
    for (const code of recoveryCodes) expect(text).not.toContain(code);
    expect(text).not.toMatch(/secret|sealed|public_key/i);
    // the other answers that carry the user carry it too
    expect((await call(server, token, 'PATCH', '/users/mfa-wendy', { name: 'Wendy' })).body.mfa).toEqual(shown.body.mfa);
  });

  test('the list shows each user\'s second factors, read for the whole page in one query', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await server.createUser({ username: `mfa-list-${i}`, password: 'list password' })).id);
    await enrollTotp(server, ids[1]);
    await addPasskeyRow(server, ids[2]);
    await enrollTotp(server, ids[3]);
    await addPasskeyRow(server, ids[3]);
    // an enrollment waiting for its first code is not a second factor
    await server.services.mfa.startTotpEnrollment(ids[4]);

    const queries: string[] = [];
    const listen = (query: { sql: string }) => { if (/mfa_totp|webauthn_credentials|mfa_recovery_codes/.test(query.sql)) queries.push(query.sql); };
    server.db.knex.on('query', listen);
    let list;
    try {
      list = await call(server, token, 'GET', '/users?limit=100');
    } finally {
      server.db.knex.removeListener('query', listen);
    }
    expect(list.status).toBe(200);
    expect(queries).toHaveLength(1);
    const byName = new Map((list.body.items as Array<{ username: string; mfa: unknown }>).map((u) => [u.username, u.mfa]));
    expect(list.body.items.length).toBeGreaterThanOrEqual(6);
    expect([0, 1, 2, 3, 4, 5].map((i) => byName.get(`mfa-list-${i}`))).toEqual([
      NONE,
      { totp: true, passkeys: 0, recovery_codes_left: 10 },
      { totp: false, passkeys: 1, recovery_codes_left: 0 },
      { totp: true, passkeys: 1, recovery_codes_left: 10 },
      NONE,
      NONE,
    ]);
  });

  test('POST /users/{id}/mfa/reset: every second factor gone, 200 with the empty mfa, audited with the admin as actor; the password still works', async () => {
    const { id } = await server.createUser({ username: 'mfa-xena', password: 'xena password' });
    const recoveryCodes = await enrollTotp(server, id);
    await addPasskeyRow(server, id);
    // one waiting to be confirmed goes too
    await server.services.mfa.startTotpEnrollment(id);

    const reset = await call(server, token, 'POST', `/users/${id}/mfa/reset`);
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ id, username: 'mfa-xena', mfa: NONE });
    expect(await server.services.mfa.factorsOf(id)).toEqual({ totp: false, passkeys: 0, recoveryCodesLeft: 0 });
    expect(await server.services.mfa.pendingTotpEnrollment(id)).toBeUndefined();
    expect(await server.services.mfa.verifyCode(id, recoveryCodes[1], { ...CONTEXT, via: 'login_page' })).toMatchObject({ ok: false });
    expect((await call(server, token, 'GET', '/users/mfa-xena')).body.mfa).toEqual(NONE);
    expect(await server.services.verifyCredentials('mfa-xena', 'xena password', { ip: '127.0.0.1' })).toMatchObject({ ok: true });

    const audit = await call(server, token, 'GET', `/audit?type=mfa.reset&subject=${id}`);
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0]).toMatchObject({ type: 'mfa.reset', actor: adminClientId, subject: id });
    const text = JSON.stringify(audit.body);
    for (const code of recoveryCodes) expect(text).not.toContain(code);

    // by username too, and again: nothing left is not an error
    expect((await call(server, token, 'POST', '/users/mfa-xena/mfa/reset')).body.mfa).toEqual(NONE);
  });

  test('reset for an unknown user: 404, nothing audited', async () => {
    const before = (await call(server, token, 'GET', '/audit?type=mfa.reset&limit=200')).body.items.length;
    const res = await call(server, token, 'POST', '/users/nobody-at-all/mfa/reset');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await call(server, token, 'GET', '/audit?type=mfa.reset&limit=200')).body.items.length).toBe(before);
  });
}

describe('admin users: second factors (embedded database)', () => suite('memory'));
describeWithService('Postgres', await postgresUp())('admin users: second factors (Postgres)', () => suite('postgres'));
