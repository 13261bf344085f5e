/*
 * Two instances on one Postgres (with and without Redis): a client deleted,
 * or a secret replaced, at instance A is refused at instance B the moment the
 * change has returned — although B had the client cached — and every token
 * issued to it, at B just before, is inactive at B: client_credentials JWTs
 * and opaque tokens (which belong to no grant), authorization-code JWTs,
 * opaque userinfo tokens, refresh tokens, admin tokens.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { ensureAdminClient, readAdminCredentials } from '../../src/admin/index.ts';
import { clientMetadataValidator } from '../../src/provider/index.ts';
import { startTwoInstances, type TestServer, type TwoInstances } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { tokenRequest, type ClientCredentials } from '../support/oauth.ts';
import { adminToken, adminTokenFor, adminTokenRequest, call } from '../admin/admin-api.ts';
import { clientCredentials, codeFlow, introspect, isJwt, refresh, REDIRECT_URI } from '../tokens/token-flows.ts';

const API = 'https://api.client-changes.test';
const OPAQUE_API = 'https://opaque.client-changes.test';
const USER = { username: 'changes-alice', password: 'a long and unguessable passphrase' };

const pgUp = await postgresUp();
const setups = [
  { name: 'Postgres and Redis', redis: true, up: pgUp && (await redisUp()) },
  { name: 'Postgres without Redis', redis: false, up: pgUp },
];

for (const setup of setups) {
  describeWithService(setup.name, setup.up)(`two instances, ${setup.name}: a client change at A holds at B at once`, () => {
    let instances: TwoInstances | undefined;
    let a: TestServer;
    let b: TestServer;
    let rs: ClientCredentials;
    let adminAtA: string;

    beforeAll(async () => {
      instances = await startTwoInstances({ redis: setup.redis });
      ({ a, b } = instances);
      await a.services.resources.create({ identifier: API, scopes: ['read'] });
      await a.services.resources.create({ identifier: OPAQUE_API, scopes: ['read'], tokenFormat: 'opaque' });
      rs = await a.createClient({ name: 'api', grantTypes: ['client_credentials'], introspectFor: [API, OPAQUE_API] });
      await a.createUser(USER);
      adminAtA = await adminToken(a);
    }, 60_000);

    afterAll(async () => {
      await instances?.stop();
    });

    test('a client deleted at A: B refuses it at once and every token B issued to it is inactive at B', async () => {
      const job = await a.createClient({ name: 'job', grantTypes: ['client_credentials'], scopes: ['read'] });
      const app = await a.createClient({
        name: 'app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scopes: ['openid', 'offline_access', 'read'],
      });
      // issued at B just before the delete; B has both clients cached
      const jobJwt = await clientCredentials(b.url, job, API, 'read');
      const jobOpaque = await clientCredentials(b.url, job, OPAQUE_API, 'read');
      const userTokens = await codeFlow({ baseUrl: b.url, client: app, user: USER, scope: 'openid offline_access' });
      const apiTokens = await codeFlow({ baseUrl: b.url, client: app, user: USER, scope: 'openid offline_access read', resource: API, agent: userTokens.agent });
      expect([isJwt(jobJwt), isJwt(jobOpaque), isJwt(userTokens.access_token), isJwt(apiTokens.access_token)]).toEqual([true, false, false, true]);
      for (const token of [jobJwt, jobOpaque, apiTokens.access_token]) expect(await introspect(b.url, rs, token)).toMatchObject({ active: true });
      for (const token of [userTokens.access_token, userTokens.refresh_token!]) expect(await introspect(b.url, app, token)).toMatchObject({ active: true });
      expect((await fetch(`${b.url}/me`, { headers: { authorization: `Bearer ${userTokens.access_token}` } })).status).toBe(200);

      for (const client of [job, app]) {
        expect((await call(a, adminAtA, 'DELETE', `/clients/${encodeURIComponent(client.clientId)}`)).status).toBe(200);
      }

      const again = await tokenRequest(b.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, job);
      expect({ status: again.status, error: again.body.error }).toEqual({ status: 401, error: 'invalid_client' });
      const refreshed = await refresh(b.url, app, userTokens.refresh_token!);
      expect({ status: refreshed.status, error: refreshed.body.error }).toEqual({ status: 401, error: 'invalid_client' });
      for (const token of [jobJwt, jobOpaque, apiTokens.access_token]) expect(await introspect(b.url, rs, token)).toEqual({ active: false });
      expect((await fetch(`${b.url}/me`, { headers: { authorization: `Bearer ${userTokens.access_token}` } })).status).toBe(401);
    });

    test('an admin client deleted at A: its token is refused by the admin API at B at once', async () => {
      const second = await a.createClient({ name: 'second admin', grantTypes: ['client_credentials'], scopes: ['admin'] });
      const token = await adminTokenFor({ url: b.url, issuer: a.issuer }, second, 'admin');
      expect((await call(b, token, 'GET', '/users')).status).toBe(200);
      expect((await call(a, adminAtA, 'DELETE', `/clients/${encodeURIComponent(second.clientId)}`)).status).toBe(200);
      const after = await call(b, token, 'GET', '/users');
      expect(after.status).toBe(401);
      expect(after.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    });

    test('a new secret set at A: B refuses the old one, and every access token B issued with it is inactive at B; refresh tokens go on with the new secret', async () => {
      const definition = {
        name: 'rotating', grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], redirectUris: [REDIRECT_URI],
        scopes: ['openid', 'offline_access', 'read'],
      };
      const app = await a.createClient(definition);
      const jwt = await clientCredentials(b.url, app, API, 'read');
      const opaque = await clientCredentials(b.url, app, OPAQUE_API, 'read');
      const userTokens = await codeFlow({ baseUrl: b.url, client: app, user: USER, scope: 'openid offline_access' });
      for (const token of [jwt, opaque]) expect(await introspect(b.url, rs, token)).toMatchObject({ active: true });
      expect((await fetch(`${b.url}/me`, { headers: { authorization: `Bearer ${userTokens.access_token}` } })).status).toBe(200);

      const renewed = { clientId: app.clientId, clientSecret: randomBytes(32).toString('base64url') };
      await a.services.clients.update(app.clientId, { ...definition, clientSecret: renewed.clientSecret }, clientMetadataValidator(a.provider as never));

      const withOld = await tokenRequest(b.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, app);
      expect({ status: withOld.status, error: withOld.body.error }).toEqual({ status: 401, error: 'invalid_client' });
      for (const token of [jwt, opaque]) expect(await introspect(b.url, rs, token)).toEqual({ active: false });
      expect(await introspect(b.url, renewed, userTokens.access_token)).toEqual({ active: false });
      const userinfo = await fetch(`${b.url}/me`, { headers: { authorization: `Bearer ${userTokens.access_token}` } });
      expect(userinfo.status).toBe(401);
      expect(userinfo.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);

      const refreshed = await refresh(b.url, renewed, userTokens.refresh_token!);
      expect(refreshed.status).toBe(200);
      expect((await fetch(`${b.url}/me`, { headers: { authorization: `Bearer ${refreshed.body.access_token}` } })).status).toBe(200);
      expect(await introspect(b.url, rs, await clientCredentials(b.url, renewed, API, 'read'))).toMatchObject({ active: true });
    });

    // last: it replaces the admin secret the other tests use
    test('the admin secret replaced at A (a new TESSERA_ADMIN_CLIENT_SECRET): B refuses the old one and its tokens at once', async () => {
      const old = readAdminCredentials(a.config.keysDir, {})!;
      const oldToken = await adminTokenFor({ url: b.url, issuer: a.issuer }, { clientId: old.client_id, clientSecret: old.client_secret }, 'admin');
      expect((await call(b, oldToken, 'GET', '/users')).status).toBe(200);

      // what a restart of A with the new secret in its environment runs
      const replacement = randomBytes(32).toString('base64url');
      await ensureAdminClient({ clients: a.services.clients, provider: a.provider, keysDir: a.config.keysDir, env: { TESSERA_ADMIN_CLIENT_ID: old.client_id, TESSERA_ADMIN_CLIENT_SECRET: replacement } });

      const withOld = await adminTokenRequest({ url: b.url, issuer: a.issuer }, { clientId: old.client_id, clientSecret: old.client_secret }, 'admin');
      expect({ status: withOld.status, error: withOld.body.error }).toEqual({ status: 401, error: 'invalid_client' });
      expect((await call(b, oldToken, 'GET', '/users')).status).toBe(401);
      const newToken = await adminTokenFor({ url: b.url, issuer: a.issuer }, { clientId: old.client_id, clientSecret: replacement }, 'admin');
      expect((await call(b, newToken, 'GET', '/users')).status).toBe(200);
      expect((await call(a, newToken, 'GET', '/users')).status).toBe(200);
    });
  });
}
