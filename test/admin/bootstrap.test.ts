/*
 * The admin client is what the configuration says, at every start: a new
 * TESSERA_ADMIN_CLIENT_SECRET replaces the stored one (the old one and its
 * tokens stop working at once), a new TESSERA_ADMIN_CLIENT_ID replaces the
 * client, and a weak secret stops the server with a message that names the
 * variable and never shows the secret.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ADMIN_CLIENT_FILE, DEFAULT_ADMIN_CLIENT_ID, ensureAdminClient, readAdminCredentials } from '../../src/admin/index.ts';
import { AdminClientConfigError } from '../../src/admin/bootstrap.ts';
import { estimateSecretBits, secretWeakness } from '../../src/admin/secret-strength.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { freePort, spawnTessera, waitForOk, type TesseraProcess } from '../support/process.ts';
import { adminTokenFor, adminTokenRequest, call } from './admin-api.ts';

const strongSecret = () => randomBytes(32).toString('base64url');

describe('admin secret strength', () => {
  test.each([
    ['shorter than 32 characters', 'Xk7#pQ2!vL9@mN4$'],
    ['one character repeated', 'a'.repeat(40)],
    ['a word repeated', 'passwordpasswordpasswordpassword'],
    ['a short pattern repeated', 'Aa1!'.repeat(10)],
    ['the alphabet and digits in order', 'abcdefghijklmnopqrstuvwxyz0123456789'],
    ['keyboard rows', 'qwertyuiopasdfghjklzxcvbnm1234567890'],
    ['32 digits', '31415926535897932384626433832795'],
    ['a phrase repeated', 'Tr0ub4dor&3-Tr0ub4dor&3-Tr0ub4dor&3'],
  ])('refused: %s', (_kind, secret) => {
    expect(secretWeakness(secret)).toBeDefined();
  });

  test('random secrets pass: 32 bytes in base64, and 16 bytes in hex (openssl rand -hex 16) every time', () => {
    for (let i = 0; i < 2000; i++) {
      expect(secretWeakness(randomBytes(32).toString('base64'))).toBeUndefined();
      expect(secretWeakness(randomBytes(16).toString('hex'))).toBeUndefined();
    }
    expect(estimateSecretBits(randomBytes(32).toString('base64url'))).toBeGreaterThan(200);
  });
});

describe('ensureAdminClient, run at every start', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer(); });
  afterAll(async () => { await server?.stop(); });

  const ensure = (env: NodeJS.ProcessEnv) => ensureAdminClient({
    clients: server.services.clients, provider: server.provider, keysDir: server.config.keysDir, env, audit: server.services.audit,
  });
  const tokenWith = (clientId: string, clientSecret: string) => adminTokenRequest(server, { clientId, clientSecret }, 'admin');
  const adminTokenWith = (clientId: string, clientSecret: string) => adminTokenFor(server, { clientId, clientSecret }, 'admin');

  test('a weak TESSERA_ADMIN_CLIENT_SECRET is refused; the message names the variable, never the secret; nothing changes', async () => {
    const stored = readAdminCredentials(server.config.keysDir, {})!;
    const token = await adminTokenWith(stored.client_id, stored.client_secret);
    for (const weak of ['short-secret', 'passwordpasswordpasswordpassword']) {
      const refusal = ensure({ TESSERA_ADMIN_CLIENT_ID: stored.client_id, TESSERA_ADMIN_CLIENT_SECRET: weak });
      await expect(refusal).rejects.toThrow(AdminClientConfigError);
      await expect(refusal).rejects.toThrow(/TESSERA_ADMIN_CLIENT_SECRET is too weak/);
      expect(String(await refusal.catch((error: Error) => error.message))).not.toContain(weak);
    }
    expect((await call(server, token, 'GET', '/users')).status).toBe(200);
  });

  test('only one of the two variables set is refused, not ignored', async () => {
    await expect(ensure({ TESSERA_ADMIN_CLIENT_SECRET: strongSecret() })).rejects.toThrow(/TESSERA_ADMIN_CLIENT_SECRET is set but TESSERA_ADMIN_CLIENT_ID is not/);
    await expect(ensure({ TESSERA_ADMIN_CLIENT_ID: 'ops-admin' })).rejects.toThrow(/TESSERA_ADMIN_CLIENT_ID is set but TESSERA_ADMIN_CLIENT_SECRET is not/);
  });

  test('a new TESSERA_ADMIN_CLIENT_SECRET replaces the stored one at once, with every token issued with it; the client stays admin-only and first party', async () => {
    const stored = readAdminCredentials(server.config.keysDir, {})!;
    expect(stored.client_id).toBe(DEFAULT_ADMIN_CLIENT_ID);
    const oldToken = await adminTokenWith(stored.client_id, stored.client_secret);
    expect((await call(server, oldToken, 'GET', '/users')).status).toBe(200);

    const replacement = strongSecret();
    const env = { TESSERA_ADMIN_CLIENT_ID: stored.client_id, TESSERA_ADMIN_CLIENT_SECRET: replacement };
    await ensure(env);

    const withOld = await tokenWith(stored.client_id, stored.client_secret);
    expect({ status: withOld.status, error: withOld.body.error }).toEqual({ status: 401, error: 'invalid_client' });
    expect((await call(server, oldToken, 'GET', '/users')).status).toBe(401);
    const newToken = await adminTokenWith(stored.client_id, replacement);
    const admin = await call(server, newToken, 'GET', `/clients/${stored.client_id}`);
    expect(admin.body).toMatchObject({ scopes: ['admin'], first_party: true, grant_types: ['client_credentials'], public: false });

    const events = await server.services.audit.list({ subjects: [stored.client_id], type: 'client.secret_rotated', limit: 10, offset: 0 });
    expect(events).toHaveLength(1);
    expect(events[0].actor).toBe('configuration');
    expect(JSON.stringify(events[0])).not.toContain(replacement);

    // the next start with the same configuration changes nothing: its tokens stay valid
    await ensure(env);
    expect((await call(server, newToken, 'GET', '/users')).status).toBe(200);
  });

  test('a new TESSERA_ADMIN_CLIENT_ID becomes the admin client; the previous admin client is deleted, and its tokens stop working', async () => {
    const previous = await ensure({ TESSERA_ADMIN_CLIENT_ID: DEFAULT_ADMIN_CLIENT_ID, TESSERA_ADMIN_CLIENT_SECRET: strongSecret() });
    const previousToken = await adminTokenWith(previous.client_id, previous.client_secret);

    const next = { TESSERA_ADMIN_CLIENT_ID: 'ops-admin', TESSERA_ADMIN_CLIENT_SECRET: strongSecret() };
    await ensure(next);
    expect((await call(server, previousToken, 'GET', '/users')).status).toBe(401);
    expect(await server.services.clients.find(DEFAULT_ADMIN_CLIENT_ID)).toBeUndefined();
    const token = await adminTokenWith(next.TESSERA_ADMIN_CLIENT_ID, next.TESSERA_ADMIN_CLIENT_SECRET);
    expect((await call(server, token, 'GET', '/clients/ops-admin')).body).toMatchObject({ scopes: ['admin'], first_party: true });
    expect(await server.services.audit.list({ subjects: [DEFAULT_ADMIN_CLIENT_ID], type: 'client.deleted', limit: 10, offset: 0 })).toHaveLength(1);
  });

  test('an admin client whose credentials are configured nowhere any more: refused, not silently replaced', async () => {
    const file = join(server.config.keysDir, ADMIN_CLIENT_FILE);
    const aside = `${file}.aside`;
    await ensure({});  // the file's admin client (tessera-admin) again; ops-admin goes
    renameSync(file, aside);
    try {
      await expect(ensure({})).rejects.toThrow(/the admin client tessera-admin exists but its credentials are missing/);
    } finally {
      renameSync(aside, file);
    }
  });
});

describe('tessera serve with TESSERA_ADMIN_CLIENT_SECRET, as a process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-admin-secret-'));
  const running: TesseraProcess[] = [];
  let port: number;
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  const serve = (secret: string) => {
    const proc = spawnTessera(['serve'], {
      PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}`,
      DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), LOG_LEVEL: 'info',
      TESSERA_ADMIN_CLIENT_ID: 'ops-admin', TESSERA_ADMIN_CLIENT_SECRET: secret,
    }, port);
    running.push(proc);
    return proc;
  };
  const adminToken = (proc: TesseraProcess, secret: string) => adminTokenRequest(proc, { clientId: 'ops-admin', clientSecret: secret }, 'admin');

  test('a restart with a new secret refuses the old one; a restart with a weak one exits 1 naming the variable, not the secret', async () => {
    port = await freePort();
    const first = strongSecret();
    let proc = serve(first);
    await waitForOk(`${proc.url}/.well-known/openid-configuration`, proc, 30_000);
    expect((await adminToken(proc, first)).status).toBe(200);
    expect(await proc.stop()).toBe(0);
    // the environment's credentials are not written to disk
    expect(existsSync(join(dir, 'keys', ADMIN_CLIENT_FILE))).toBe(false);

    const second = strongSecret();
    proc = serve(second);
    await waitForOk(`${proc.url}/.well-known/openid-configuration`, proc, 30_000);
    expect((await adminToken(proc, first)).status).toBe(401);
    expect((await adminToken(proc, second)).status).toBe(200);
    expect(await proc.stop()).toBe(0);

    const weak = 'adminadminadminadminadminadminadmin';
    proc = serve(weak);
    expect(await Promise.race([proc.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 30_000))])).toBe(1);
    expect(proc.output()).toMatch(/TESSERA_ADMIN_CLIENT_SECRET is too weak/);
    expect(proc.output()).not.toContain(weak);
    expect(proc.output()).not.toMatch(/^\s+at /m); // no stack trace
    expect(readFileSync(join(dir, 'data', 'pgdata', 'PG_VERSION'), 'utf8')).toBeTruthy();
  }, 120_000);
});
