// Issue 2, "done means" 1, with the real process: `node src/main.ts serve`
// (what `npm start` runs) on a fresh clone without Postgres or Redis serves
// discovery within 30 s, and after a restart users, clients, sessions and
// refresh tokens are still there.
import { describe, test, expect, afterAll } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnTessera, waitForOk, type TesseraProcess } from '../support/process.ts';
import { authorize, tokenRequest } from '../support/oauth.ts';

const DISCOVERY_DEADLINE_MS = 30_000;
const REDIRECT_URI = 'https://notes.example.test/callback';
const PASSWORD = 'a long and unguessable passphrase';

describe('tessera serve, as a process, on embedded defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-serve-'));
  const dataDir = join(dir, 'data');
  const keysDir = join(dir, 'keys');
  const running: TesseraProcess[] = [];
  let port: number;
  let issuer: string;

  async function start(): Promise<{ proc: TesseraProcess; ms: number }> {
    const proc = spawnTessera(['serve'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: issuer,
      DATA_DIR: dataDir,
      KEYS_DIR: keysDir,
      LOG_LEVEL: 'info',
    }, port);
    running.push(proc);
    const ms = await waitForOk(`${proc.url}/.well-known/openid-configuration`, proc, DISCOVERY_DEADLINE_MS);
    return { proc, ms };
  }

  async function stop(proc: TesseraProcess) {
    expect(await proc.stop()).toBe(0); // graceful shutdown on SIGTERM
    expect(existsSync(join(dataDir, 'tessera.lock'))).toBe(false);
  }

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  let clientId: string;
  let clientSecret: string;
  let userId: string;
  let adminCredentials: { client_id: string; client_secret: string };
  const adminTokens: string[] = [];
  let jwks: unknown;
  let tokens: { access_token?: string; refresh_token?: string };
  let session: Awaited<ReturnType<typeof authorize>>;
  let latestRefreshToken: string;

  /** A JSON call to the admin API with a bearer token. */
  async function admin(proc: TesseraProcess, token: string, method: string, path: string, body?: unknown) {
    const res = await fetch(`${proc.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  }

  async function adminAccessToken(proc: TesseraProcess): Promise<string> {
    const res = await tokenRequest(proc.url, {
      grant_type: 'client_credentials', resource: `${issuer}/admin`, scope: 'admin',
    }, { clientId: adminCredentials.client_id, clientSecret: adminCredentials.client_secret });
    expect(res.status).toBe(200);
    adminTokens.push(res.body.access_token!);
    return res.body.access_token!;
  }

  test('first start: discovery within 30 s; data created over HTTP (admin API, sign-in pages, token endpoint)', async () => {
    port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    const { proc, ms } = await start();
    expect(ms).toBeLessThan(DISCOVERY_DEADLINE_MS);

    const discovery = await (await fetch(`${proc.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(discovery.issuer).toBe(issuer);
    expect(discovery.code_challenge_methods_supported).toEqual(['S256']);
    jwks = await (await fetch(`${proc.url}/jwks`)).json();

    // the admin credentials the server wrote on first start
    const adminFile = join(keysDir, 'admin-client.json');
    expect(statSync(adminFile).mode & 0o777).toBe(0o600);
    adminCredentials = JSON.parse(readFileSync(adminFile, 'utf8'));
    const token = await adminAccessToken(proc);

    const user = await admin(proc, token, 'POST', '/users', { username: 'grace', email: 'grace@example.test', password: PASSWORD });
    expect(user.status).toBe(201);
    userId = user.body.id as string;
    const client = await admin(proc, token, 'POST', '/clients', {
      name: 'Notes', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
    });
    expect(client.status).toBe(201);
    clientId = client.body.client_id as string;
    clientSecret = client.body.client_secret as string;

    session = await authorize({
      baseUrl: proc.url,
      clientId,
      redirectUri: REDIRECT_URI,
      scope: 'openid profile offline_access',
      params: { prompt: 'consent' },
      user: { username: 'grace', password: PASSWORD },
    });
    expect(session.pages).toEqual(['login', 'consent']);
    const issued = await tokenRequest(proc.url, {
      grant_type: 'authorization_code', code: session.code!, redirect_uri: REDIRECT_URI, code_verifier: session.verifier,
    }, { clientId, clientSecret });
    expect(issued.status).toBe(200);
    tokens = issued.body;
    expect(tokens.refresh_token).toEqual(expect.any(String));
    await stop(proc);
  });

  test('after a restart: same keys; the session, refresh token, access token, user, client and admin client still work', async () => {
    const { proc, ms } = await start();
    expect(ms).toBeLessThan(DISCOVERY_DEADLINE_MS);
    expect(await (await fetch(`${proc.url}/jwks`)).json()).toEqual(jwks);

    const me = await fetch(`${proc.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(me.status).toBe(200);
    expect((await me.json() as { sub: string }).sub).toBe(userId);

    const refreshed = await tokenRequest(proc.url, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, { clientId, clientSecret });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.refresh_token);

    // the session cookie skips the login page (and the grant the consent page)
    const again = await authorize({ baseUrl: proc.url, clientId, redirectUri: REDIRECT_URI, scope: 'openid profile', agent: session.agent });
    expect(again.pages).toEqual([]);
    expect(again.code).toEqual(expect.any(String));

    // a new browser signs in with the stored password
    const fresh = await authorize({
      baseUrl: proc.url, clientId, redirectUri: REDIRECT_URI, scope: 'openid', user: { username: 'grace', password: PASSWORD },
    });
    expect(fresh.pages).toEqual(['login', 'consent']); // consent belongs to a session's grant
    expect(fresh.code).toEqual(expect.any(String));

    // user and client, seen through the admin API
    const token = await adminAccessToken(proc);
    expect((await admin(proc, token, 'GET', '/users/grace')).body).toMatchObject({ id: userId, email: 'grace@example.test' });
    expect((await admin(proc, token, 'GET', `/clients/${clientId}`)).body).toMatchObject({ client_id: clientId, name: 'Notes' });

    latestRefreshToken = refreshed.body.refresh_token!;
    // nothing secret in what the process logged
    const logged = running.map((p) => p.output()).join('\n');
    expect(logged).toContain('Tessera is listening');
    for (const secret of [PASSWORD, clientSecret, adminCredentials.client_secret, ...adminTokens, tokens.access_token!, tokens.refresh_token!, session.code!, latestRefreshToken, session.agent.jar.get('_session')!]) {
      expect(logged.includes(secret)).toBe(false);
    }
    await stop(proc);
  });

  test('after a crash (SIGKILL): the stale lock is taken over, and what was written before the crash is there', async () => {
    let { proc } = await start();
    const refreshed = await tokenRequest(proc.url, { grant_type: 'refresh_token', refresh_token: latestRefreshToken }, { clientId, clientSecret });
    expect(refreshed.status).toBe(200);
    expect(await proc.crash()).not.toBe(0);
    expect(existsSync(join(dataDir, 'tessera.lock'))).toBe(true); // nobody removed it

    ({ proc } = await start());
    const again = await tokenRequest(proc.url, { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token! }, { clientId, clientSecret });
    expect(again.status).toBe(200);
    // the refresh token consumed before the crash stays consumed
    const replay = await tokenRequest(proc.url, { grant_type: 'refresh_token', refresh_token: latestRefreshToken }, { clientId, clientSecret });
    expect(replay.body.error).toBe('invalid_grant');
    await stop(proc);
  });
});
