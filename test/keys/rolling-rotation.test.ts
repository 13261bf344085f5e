/*
 * Issue 9, finding 7: key rotation during a rolling restart. Two instances on
 * one Postgres and one Redis share KEYS_DIR and one issuer, and are restarted
 * one at a time after each rotation step. At every moment each instance must
 * accept the tokens the other signs: at introspection (and so the JWT fast
 * path), at the admin API's guard, and through its /jwks for ID tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { activateSigningKeys, listSigningKeys, longestSignedTokenTtl, retireSigningKeys, stageSigningKeys } from '../../src/keys/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { readAdminCredentials } from '../../src/admin/index.ts';
import { adminTokenFor, call } from '../admin/admin-api.ts';
import type { ClientCredentials } from '../support/oauth.ts';
import { clientCredentials, codeFlow, introspect, REDIRECT_URI } from '../tokens/token-flows.ts';

const API = 'https://api.rotation.test';
const SHORT_API = 'https://short.rotation.test';
const SHORT_TTL = 10;
const USER = { username: 'rotation-alice', password: 'a long and unguessable passphrase' };

const up = (await postgresUp()) && (await redisUp());
const kid = (jwt: string) => decodeProtectedHeader(jwt).kid!;

describeWithService('Postgres and Redis', up)('signing key rotation during a rolling restart of two instances', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-rolling-'));
  const keysDir = join(dir, 'keys');
  const shared = {
    dir, database: 'postgres' as const, schema: `t_rot_${randomBytes(6).toString('hex')}`,
    redis: true, redisKeyPrefix: `tessera-test:rot:${randomBytes(6).toString('hex')}:`,
  };
  const servers: Record<'a' | 'b', TestServer | undefined> = { a: undefined, b: undefined };
  const ports = { a: 0, b: 0 };
  let issuer: string;
  let svc: ClientCredentials;
  let rs: ClientCredentials;
  let app: ClientCredentials;
  /** the ES256 and RS256 keys before any rotation, and the staged ones */
  let oldKids: Record<string, string>;
  let newKids: Record<string, string>;
  /** signed before the rotation began */
  let oldToken: string;
  let oldAdminToken: string;
  let shortToken: string;

  const a = () => servers.a!;
  const b = () => servers.b!;
  const kidsOf = (status: string) => Object.fromEntries(listSigningKeys(keysDir).filter((k) => k.status === status).map((k) => [k.alg, k.kid]));
  const jwksOf = async (server: TestServer) => (await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string }[] };
  const publishedKids = async (server: TestServer) => (await jwksOf(server)).keys.map((k) => k.kid);
  const apiToken = (server: TestServer) => clientCredentials(server.url, svc, API, 'read');
  const active = async (server: TestServer, token: string) => (await introspect(server.url, rs, token)).active;
  /** an admin token from `server`, for the deployment's issuer (the server object knows only its own port's) */
  const adminToken = (server: TestServer) => {
    const credentials = readAdminCredentials(keysDir, {})!;
    return adminTokenFor({ url: server.url, issuer }, { clientId: credentials.client_id, clientSecret: credentials.client_secret }, 'admin');
  };
  const adminStatus = async (server: TestServer, token: string) => (await call(server, token, 'GET', '/keys')).status;

  async function start(which: 'a' | 'b'): Promise<void> {
    servers[which] = await startTestServer({ ...shared, ...(ports[which] ? { port: ports[which] } : {}), ...(issuer ? { config: { issuer } } : {}) });
    ports[which] = Number(new URL(servers[which]!.url).port);
    issuer ??= servers[which]!.issuer;
  }
  async function restart(which: 'a' | 'b'): Promise<void> {
    await servers[which]!.stop({ keep: true });
    servers[which] = undefined;
    await start(which);
  }

  beforeAll(async () => {
    await start('a');
    await start('b'); // one deployment, one issuer: B answers for A's issuer
    await a().services.resources.create({ identifier: API, scopes: ['read'] });
    await a().services.resources.create({ identifier: SHORT_API, scopes: ['read'], accessTokenTtl: SHORT_TTL });
    svc = await a().createClient({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
    rs = await a().createClient({ name: 'api', grantTypes: ['client_credentials'], introspectFor: [API, SHORT_API] });
    app = await a().createClient({ name: 'app', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'] });
    await a().createUser(USER);
    oldKids = kidsOf('current');
    oldToken = await apiToken(a());
    oldAdminToken = await adminToken(a());
    expect(kid(oldToken)).toBe(oldKids.ES256);
  }, 60_000);

  afterAll(async () => {
    await servers.a?.stop({ keep: true });
    await servers.b?.stop(); // the last one out drops the schema and the Redis keys
    rmSync(dir, { recursive: true, force: true });
  });

  test('stage, then B restarts: B publishes the staged keys and still signs with the current ones; A (old keys) and B accept each other\'s tokens', async () => {
    await stageSigningKeys(keysDir);
    newKids = kidsOf('next');
    await restart('b');

    expect(await publishedKids(b())).toEqual(expect.arrayContaining([...Object.values(oldKids), ...Object.values(newKids)]));
    expect(await publishedKids(a())).not.toContain(newKids.ES256); // A has not restarted

    const fromA = await apiToken(a());
    const fromB = await apiToken(b());
    expect(kid(fromB)).toBe(oldKids.ES256); // staged keys never sign
    expect(await active(a(), fromB)).toBe(true);
    expect(await active(b(), fromA)).toBe(true);
    expect(await adminStatus(a(), await adminToken(b()))).toBe(200);
    expect(await adminStatus(b(), await adminToken(a()))).toBe(200);
    const idToken = (await codeFlow({ baseUrl: b().url, client: app, user: USER, scope: 'openid' })).id_token!;
    await expect(jwtVerify(idToken, createLocalJWKSet(await jwksOf(a()) as never), { issuer, audience: app.clientId })).resolves.toBeTruthy();
  }, 60_000);

  test('A restarts with the staged keys, then activate and B restarts: B signs with the new keys, and A (not restarted again) accepts them', async () => {
    await restart('a');
    shortToken = await clientCredentials(a().url, svc, SHORT_API, 'read');
    expect(kid(shortToken)).toBe(oldKids.ES256);
    activateSigningKeys(keysDir, { retentionSeconds: longestSignedTokenTtl(a().config.ttl) });
    expect(kidsOf('current')).toEqual(newKids);
    expect(kidsOf('previous')).toEqual(oldKids);
    await restart('b');

    const fromB = await apiToken(b());
    const fromA = await apiToken(a());
    expect(kid(fromB)).toBe(newKids.ES256);
    expect(kid(fromA)).toBe(oldKids.ES256); // A signs with what was current when it started
    expect(await active(a(), fromB)).toBe(true);
    expect(await active(b(), fromA)).toBe(true);
    expect(await active(b(), shortToken)).toBe(true);
    const adminFromB = await adminToken(b());
    expect(kid(adminFromB)).toBe(newKids.ES256);
    expect(await adminStatus(a(), adminFromB)).toBe(200);
    expect(await adminStatus(b(), await adminToken(a()))).toBe(200);

    const idToken = (await codeFlow({ baseUrl: b().url, client: app, user: USER, scope: 'openid' })).id_token!;
    expect(Object.values(newKids)).toContain(kid(idToken));
    await expect(jwtVerify(idToken, createLocalJWKSet(await jwksOf(a()) as never), { issuer, audience: app.clientId })).resolves.toBeTruthy();
  }, 60_000);

  test('a token the old key signed stays valid after the activation, everywhere, until it expires', async () => {
    await restart('a'); // the rolling restart completes: both sign with the new keys
    expect(kid(await apiToken(a()))).toBe(newKids.ES256);
    for (const server of [a(), b()]) {
      expect(await active(server, oldToken)).toBe(true);
      expect(await adminStatus(server, oldAdminToken)).toBe(200);
      expect(await active(server, shortToken)).toBe(true);
    }
    const { exp } = JSON.parse(Buffer.from(shortToken.split('.')[1], 'base64url').toString()) as { exp: number };
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 1100));
    expect(await active(b(), shortToken)).toBe(false);
    expect(await active(b(), oldToken)).toBe(true);
  }, 60_000);

  test('retire: not before the previous keys\' tokens have expired; once retired and restarted, they are neither published nor accepted', async () => {
    expect(retireSigningKeys(keysDir).changed).toEqual([]);
    expect(kidsOf('previous')).toEqual(oldKids);
    // the operator's way out for a key that must stop being trusted before then
    expect(retireSigningKeys(keysDir, { force: true }).changed.map((k) => k.kid).sort()).toEqual(Object.values(oldKids).sort());
    await restart('a');
    await restart('b');
    for (const server of [a(), b()]) {
      const published = await publishedKids(server);
      for (const retired of Object.values(oldKids)) expect(published).not.toContain(retired);
      expect(await active(server, oldToken)).toBe(false);
      expect(await adminStatus(server, oldAdminToken)).toBe(401);
      expect(await active(server, await apiToken(server))).toBe(true);
    }
  }, 60_000);
});
