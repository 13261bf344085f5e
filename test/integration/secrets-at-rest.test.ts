// Issue 2, "done means" 7: after real use (sign-ins, wrong passwords, codes, the password grant, the admin API,
// refreshes with rotation and reuse, client_credentials, introspection,
// revocation, wrong secrets, two-step verification set up on /account), neither the stores nor the logs hold an access
// token, refresh token, code, client secret, password, session cookie, TOTP
// secret or recovery code in plain text. Stores: the PGlite files under DATA_DIR (byte scan, so deleted
// rows and the WAL count too) and every row of every table (a pg_dump-like
// SELECT), Postgres (every row of every table of the schema), Redis (every key
// and value under the server's prefix). Logs: every line, at level debug.
import { describe, test, expect } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startTestServer, type TestServer, type TestServerOptions } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp, POSTGRES_URL, REDIS_URL } from '../support/services.ts';
import { authorize, basicAuth, postAsClient, tokenRequest } from '../support/oauth.ts';
import { BrowserAgent, formWithButton, headingOf } from '../support/browser-agent.ts';
import * as OTPAuth from 'otpauth';
import { dumpUnder } from '../support/redis-keys.ts';
import { adminTokenRequest } from '../admin/admin-api.ts';
import { createDatabase, type Database } from '../../src/db/index.ts';

const REDIRECT_URI = 'https://app.example.test/cb';
const JWT_API = 'https://jwt-api.example.test';
const OPAQUE_API = 'https://opaque-api.example.test';

/** Every secret the run handled, by what it is. */
class Secrets {
  readonly #all = new Map<string, string>();
  add(kind: string, value: string | undefined | null): void {
    if (!value) return;
    expect(value.length).toBeGreaterThanOrEqual(8); // a short value would match by chance
    this.#all.set(value, kind);
  }
  /** The forms in which each secret could appear: as sent, form-encoded, and the JWT signature alone. */
  *needles(): Generator<[string, string]> {
    for (const [value, kind] of this.#all) {
      yield [value, kind];
      const encoded = new URLSearchParams({ v: value }).toString().slice(2);
      if (encoded !== value) yield [encoded, `${kind} (form-encoded)`];
      const parts = value.split('.');
      if (parts.length === 3 && parts[2].length > 20) yield [parts[2], `${kind} (JWT signature)`];
    }
  }
  get size() { return this.#all.size; }
}

function findIn(haystack: Buffer | string, secrets: Secrets, where: string): string[] {
  const found: string[] = [];
  const buffer = typeof haystack === 'string' ? Buffer.from(haystack) : haystack;
  for (const [needle, kind] of secrets.needles()) {
    if (buffer.includes(Buffer.from(needle))) found.push(`${kind} in ${where}`);
  }
  return found;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

/** Every row of every table of the current schema, as JSON text (what pg_dump would show). */
async function dumpTables(db: Database): Promise<string> {
  const { rows } = await db.knex.raw(
    "select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by 1",
  ) as { rows: Array<{ table_name: string }> };
  expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['accounts', 'clients', 'token_state']));
  const parts: string[] = [];
  for (const { table_name: table } of rows) {
    const dumped = await db.knex.raw('select row_to_json(t)::text as row from ?? t', [table]) as { rows: Array<{ row: string }> };
    parts.push(`-- ${table}`, ...dumped.rows.map((r) => r.row));
  }
  return parts.join('\n');
}

/**
 * Uses the server the way clients and people do, and returns every secret
 * involved, plus a canary: a value that is not secret and must be found by the
 * same scan (so a scan that sees nothing cannot pass).
 */
async function exercise(server: TestServer): Promise<{ secrets: Secrets; canary: string }> {
  const secrets = new Secrets();
  const password = 'Correct-Horse-9-Battery';
  const wrongPassword = 'Wrong-Horse-7-Battery';
  await server.createUser({ username: 'dana', password, email: 'dana@example.test' });
  secrets.add('password', password);
  secrets.add('wrong password', wrongPassword);

  const web = await server.createClient({
    name: 'Web', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI],
    scopes: ['openid', 'profile', 'email', 'offline_access', 'read'],
  });
  const service = await server.createClient({ name: 'Service', grantTypes: ['client_credentials'], scopes: ['read'], introspectFor: [OPAQUE_API] });
  secrets.add('client secret', web.clientSecret);
  secrets.add('client secret', service.clientSecret);
  secrets.add('Basic credentials', basicAuth(web).slice(6));
  const admin = JSON.parse(readFileSync(join(server.config.keysDir, 'admin-client.json'), 'utf8')) as { client_id: string; client_secret: string };
  secrets.add('admin client secret', admin.client_secret);
  await server.services.resources.create({ identifier: JWT_API, scopes: ['read'] });
  await server.services.resources.create({ identifier: OPAQUE_API, scopes: ['read'], tokenFormat: 'opaque' });

  // a wrong password first, then the right one; consent; code; tokens
  const agent = new BrowserAgent();
  const signIn = async (params: Record<string, string> = {}) => {
    const result = await authorize({
      baseUrl: server.url, clientId: web.clientId, redirectUri: REDIRECT_URI, scope: 'openid profile email offline_access',
      params: { prompt: 'consent', ...params }, user: { username: 'dana', password }, agent,
    });
    secrets.add('code', result.code);
    secrets.add('session cookie', result.agent.jar.get('_session'));
    return result;
  };
  {
    const url = new URL('/auth', server.url);
    for (const [k, v] of Object.entries({ client_id: web.clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })) url.searchParams.set(k, v);
    const { response: page } = await agent.follow(url.href);
    const { response: again } = await agent.submit(page, formWithButton(page.text, 'Sign in'), { username: 'dana', password: wrongPassword });
    expect(again.text).toContain('Incorrect username or password');
  }
  const first = await signIn();
  const issued = await tokenRequest(server.url, {
    grant_type: 'authorization_code', code: first.code!, redirect_uri: REDIRECT_URI, code_verifier: first.verifier,
  }, web);
  expect(issued.status).toBe(200);
  secrets.add('access token', issued.body.access_token);
  secrets.add('refresh token', issued.body.refresh_token);
  secrets.add('ID token', issued.body.id_token);
  // the code again: refused, and the grant it came from is revoked
  expect((await tokenRequest(server.url, { grant_type: 'authorization_code', code: first.code!, redirect_uri: REDIRECT_URI, code_verifier: first.verifier }, web)).status).toBe(400);

  // a second grant in the same session, with an API's JWT access token; refresh twice; reuse the first
  const second = await signIn({ resource: JWT_API, scope: 'openid offline_access read' });
  const tokens2 = await tokenRequest(server.url, {
    grant_type: 'authorization_code', code: second.code!, redirect_uri: REDIRECT_URI, code_verifier: second.verifier, resource: JWT_API,
  }, web);
  expect(tokens2.status).toBe(200);
  secrets.add('access token (JWT)', tokens2.body.access_token);
  secrets.add('refresh token', tokens2.body.refresh_token);
  const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: tokens2.body.refresh_token! }, web);
  expect(refreshed.status).toBe(200);
  secrets.add('access token', refreshed.body.access_token);
  secrets.add('refresh token', refreshed.body.refresh_token);
  secrets.add('ID token', refreshed.body.id_token);

  // a third grant that stays alive: refreshed once (rotation), then used at userinfo
  const third = await signIn();
  const tokens3 = await tokenRequest(server.url, {
    grant_type: 'authorization_code', code: third.code!, redirect_uri: REDIRECT_URI, code_verifier: third.verifier,
  }, web);
  secrets.add('access token', tokens3.body.access_token);
  secrets.add('refresh token', tokens3.body.refresh_token);
  const rotated = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: tokens3.body.refresh_token! }, web);
  expect(rotated.status).toBe(200);
  secrets.add('access token', rotated.body.access_token);
  secrets.add('refresh token', rotated.body.refresh_token);
  expect((await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${rotated.body.access_token}` } })).status).toBe(200);

  // reuse of the consumed refresh token of the second grant: refused, grant revoked
  expect((await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: tokens2.body.refresh_token! }, web)).body.error).toBe('invalid_grant');

  // client_credentials: opaque and JWT access tokens; introspection; revocation
  const opaque = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: OPAQUE_API, scope: 'read' }, service);
  expect(opaque.status).toBe(200);
  expect(opaque.body.access_token!.split('.').length).not.toBe(3);
  secrets.add('access token (opaque, client_credentials)', opaque.body.access_token);
  const jwt = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: JWT_API, scope: 'read' }, service);
  secrets.add('access token (JWT, client_credentials)', jwt.body.access_token);
  const adminToken = await adminTokenRequest(server, { clientId: admin.client_id, clientSecret: admin.client_secret }, 'admin');
  secrets.add('admin access token', adminToken.body.access_token);

  // the password grant of a first-party app: the password in a token request; a wrong one too
  const firstParty = await server.createClient({ name: 'Our app', firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid', 'offline_access', 'read'] });
  secrets.add('client secret', firstParty.clientSecret);
  const byPassword = await tokenRequest(server.url, { grant_type: 'password', username: 'dana', password, scope: 'openid offline_access read', resource: JWT_API }, firstParty);
  expect(byPassword.status).toBe(200);
  secrets.add('access token (password grant)', byPassword.body.access_token);
  secrets.add('refresh token (password grant)', byPassword.body.refresh_token);
  const wrongByPassword = 'Wrong-Grant-Password-3';
  secrets.add('wrong password (password grant)', wrongByPassword);
  expect((await tokenRequest(server.url, { grant_type: 'password', username: 'dana', password: wrongByPassword, scope: 'openid' }, firstParty)).body.error).toBe('invalid_grant');

  // the admin API: a user with a password and a client with a secret, in JSON bodies (and in the audit log)
  const adminCall = async (path: string, body: unknown) => {
    const res = await fetch(`${server.url}/admin/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken.body.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(201);
    return await res.json() as Record<string, string>;
  };
  const adminSetPassword = 'Admin-Set-Password-42';
  secrets.add('password (admin API)', adminSetPassword);
  await adminCall('/users', { username: 'erin', password: adminSetPassword });
  const adminMadeClient = await adminCall('/clients', { name: 'Made by admin', grant_types: ['client_credentials'], scopes: ['read'] });
  secrets.add('client secret (admin API)', adminMadeClient.client_secret);

  const introspected = await fetch(`${server.url}/token/introspection`, {
    method: 'POST',
    headers: { authorization: basicAuth(service), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: opaque.body.access_token! }),
  });
  expect(await introspected.json()).toMatchObject({ active: true });
  const revoked = await fetch(`${server.url}/token/revocation`, {
    method: 'POST',
    headers: { authorization: basicAuth(web), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tokens3.body.access_token! }),
  });
  expect(revoked.status).toBe(200);

  // wrong and leaked-looking secrets sent to the token endpoint
  const wrongSecret = 'not-the-secret-but-still-secret-looking';
  secrets.add('wrong client secret', wrongSecret);
  expect((await tokenRequest(server.url, { grant_type: 'client_credentials' }, { clientId: service.clientId, clientSecret: wrongSecret })).status).toBe(401);
  const bodySecret = await postAsClient(`${server.url}/token`, { grant_type: 'client_credentials' }, service, { auth: 'post' });
  // oidc-provider accepts client_secret_post for client_secret_basic clients: the secret was in a body
  expect(bodySecret.status).toBe(200);
  expect((await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: 'made-up-refresh-token-value-123' }, web)).status).toBe(400);
  secrets.add('made-up refresh token', 'made-up-refresh-token-value-123');

  // two-step verification set up on /account (issue 12): the TOTP secret, the recovery codes shown once,
  // new ones made with one of them, and a second secret left waiting for its first code
  {
    const totpCode = (secret: string) => new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate();
    const secretOn = (text: string) => /<code id="totp-secret">([^<]+)<\/code>/.exec(text)![1].replace(/\s+/g, '');
    const codesOn = (text: string) => [...text.matchAll(/<li><code>([0-9a-z-]{14})<\/code><\/li>/g)].map((m) => m[1]);
    const addTotpSecret = (secret: string) => {
      secrets.add('TOTP secret', secret);
      secrets.add('TOTP secret (hex)', OTPAuth.Secret.fromBase32(secret).hex);
    };
    const addRecoveryCodes = (codes: string[]) => {
      expect(codes).toHaveLength(10);
      for (const code of codes) {
        secrets.add('recovery code', code);
        secrets.add('recovery code (normalized)', code.replace(/-/g, '').toUpperCase());
      }
    };
    const { response: account } = await agent.follow(new URL('/account', server.url).href);
    expect(headingOf(account.text)).toBe('Your account');
    const { response: setup } = await agent.submit(account, formWithButton(account.text, 'Set up authenticator app'));
    const secret = secretOn(setup.text);
    addTotpSecret(secret);
    const { response: saved } = await agent.submit(setup, formWithButton(setup.text, 'Turn on'), { code: totpCode(secret) });
    const recoveryCodes = codesOn(saved.text);
    addRecoveryCodes(recoveryCodes);
    const newCodesPage = await agent.request(new URL('/account/two-step/recovery-codes', server.url).href);
    const { response: fresh } = await agent.submit(newCodesPage, formWithButton(newCodesPage.text, 'Create new recovery codes'), { code: recoveryCodes[0] });
    const freshCodes = codesOn(fresh.text);
    addRecoveryCodes(freshCodes);
    const replacePage = await agent.request(new URL('/account/two-step/totp/new', server.url).href);
    const { response: waiting } = await agent.submit(replacePage, formWithButton(replacePage.text, 'Continue'), { code: freshCodes[0] });
    addTotpSecret(secretOn(waiting.text));
  }

  // a sign-in left at the consent page: its interaction stays in the store, with the session it belongs to
  {
    const url = new URL('/auth', server.url);
    for (const [k, v] of Object.entries({ client_id: web.clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', prompt: 'consent', code_challenge: 'y'.repeat(43), code_challenge_method: 'S256' })) url.searchParams.set(k, v);
    const { response: page } = await agent.follow(url.href);
    expect(formWithButton(page.text, 'Allow').buttons).toContain('Allow');
  }

  // the device flow (RFC 8628): one device code approved and redeemed, one left pending; neither code is stored
  {
    const device = await server.createClient({ name: 'Device', grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'], scopes: ['openid'], public: true });
    for (const approve of [true, false]) {
      const started = JSON.parse((await postAsClient(`${server.url}/device/auth`, { scope: 'openid' }, device)).text) as { device_code: string; user_code: string };
      secrets.add('device code', started.device_code);
      secrets.add('user code', started.user_code);
      secrets.add('user code (as stored by the provider)', started.user_code.replace('-', ''));
      const entry = await agent.request(`${server.url}/device`);
      const { response: confirmation } = await agent.submit(entry, formWithButton(entry.text, 'Continue'), { user_code: started.user_code });
      expect(headingOf(confirmation.text)).toBe('Connect this device?');
      if (!approve) continue;
      const { response: consent } = await agent.submit(confirmation, formWithButton(confirmation.text, 'Continue'));
      const { response: done } = await agent.submit(consent, formWithButton(consent.text, 'Allow'));
      expect(headingOf(done.text)).toBe('Your device is connected');
      const redeemed = await tokenRequest(server.url, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: started.device_code }, device);
      expect(redeemed.status).toBe(200);
      secrets.add('access token (device flow)', redeemed.body.access_token);
    }
  }

  expect(secrets.size).toBeGreaterThan(20);
  // the client id is in clients rows, grants and sessions, and in no log line
  return { secrets, canary: web.clientId };
}

function captureLogs() {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => { lines.push(line); } } };
}

function expectNothingFound(found: string[], logs: string[]) {
  expect(found).toEqual([]);
  expect(logs.length).toBeGreaterThan(30); // the logs were really captured
}

/** The scan of `haystack` does see stored data. */
function expectCanary(haystack: Buffer | string, canary: string, where: string) {
  expect({ where, found: (typeof haystack === 'string' ? Buffer.from(haystack) : haystack).includes(Buffer.from(canary)) }).toEqual({ where, found: true });
}

/** The secrets found in every row of every table of the database `open` gives (its rows must show the canary). */
async function secretsInTables(open: () => Promise<Database>, secrets: Secrets, canary: string): Promise<string[]> {
  const db = await open();
  try {
    const tables = await dumpTables(db);
    expectCanary(tables, canary, 'the tables');
    return findIn(tables, secrets, 'the tables');
  } finally {
    await db.close();
  }
}

describe('no secret at rest or in logs: embedded database (PGlite files)', () => {
  test('the data directory files, every table row and the debug log hold no secret', async () => {
    const logs = captureLogs();
    const server = await startTestServer({ database: 'file', logDestination: logs.destination, logLevel: 'debug' });
    try {
      const { secrets, canary } = await exercise(server);
      await server.stop({ keep: true });

      const found: string[] = [];
      const files = filesUnder(server.config.dataDir);
      expect(files.length).toBeGreaterThan(100); // a real Postgres data directory
      const contents = files.map((file) => readFileSync(file));
      files.forEach((file, i) => found.push(...findIn(contents[i], secrets, file.slice(server.config.dataDir.length + 1))));
      expectCanary(Buffer.concat(contents), canary, 'the data directory');

      found.push(...await secretsInTables(() => createDatabase({ dataDir: server.config.dataDir }), secrets, canary));
      found.push(...findIn(logs.lines.join(''), secrets, 'the log'));
      if (process.env.SHOW_LOGS) console.log(logs.lines.join(''));
      expectNothingFound([...new Set(found)], logs.lines);
    } finally {
      await server.stop();
    }
  });
});

describeWithService('Postgres', await postgresUp())('no secret at rest or in logs: Postgres', () => {
  test('every row of every table of the schema and the debug log hold no secret', async () => {
    const logs = captureLogs();
    const server = await startTestServer({ database: 'postgres', logDestination: logs.destination, logLevel: 'debug' });
    try {
      const { secrets, canary } = await exercise(server);
      const found = await secretsInTables(() => createDatabase({ databaseUrl: POSTGRES_URL, schema: server.schema }), secrets, canary);
      found.push(...findIn(logs.lines.join(''), secrets, 'the log'));
      expectNothingFound([...new Set(found)], logs.lines);
    } finally {
      await server.stop();
    }
  });
});

describeWithService('Redis', await redisUp())('no secret at rest or in logs: Redis token state', () => {
  test('every key and value under the prefix, the tables and the debug log hold no secret', async () => {
    const logs = captureLogs();
    const options: TestServerOptions = { redis: true, logDestination: logs.destination, logLevel: 'debug' };
    const server = await startTestServer(options);
    const redis = new Redis(REDIS_URL);
    try {
      const { secrets, canary } = await exercise(server);
      const found: string[] = [];
      const dump = await dumpUnder([redis], server.config.redis.keyPrefix!);
      expectCanary(dump, canary, 'Redis'); // the token state really is in Redis
      found.push(...findIn(dump, secrets, 'Redis'));
      found.push(...findIn(await dumpTables(server.db), secrets, 'the tables'));
      found.push(...findIn(logs.lines.join(''), secrets, 'the log'));
      expectNothingFound([...new Set(found)], logs.lines);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
