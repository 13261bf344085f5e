/*
 * CORS per client (src/provider/web-origins.ts): the token, userinfo,
 * revocation and introspection endpoints answer a cross-origin request with
 * Access-Control-Allow-Origin only for an origin the client registered
 * (web_origins; absent: a public client's redirect origins, a confidential
 * client's none); discovery and the JWKS are open; the admin API and the pages
 * never send CORS headers. Clients are registered through the admin API, as
 * an operator does.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { postAsClient, type ClientCredentials } from '../support/oauth.ts';
import { codeFlow, REDIRECT_URI } from '../tokens/token-flows.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';

const API = 'https://api.cors.test';
const SPA_ORIGIN = 'https://spa.cors.test';
const DEV_ORIGIN = 'http://localhost:5173';
const PARTNER = 'https://partner.cors.test';
const EVIL = 'https://evil.cors.test';
/** REDIRECT_URI's origin: a confidential client's redirect origin, which grants nothing */
const APP_ORIGIN = new URL(REDIRECT_URI).origin;
const USER = { username: 'cors-alice', password: 'a long and unguessable passphrase' };

const ACAO = 'access-control-allow-origin';

describe('CORS per client', () => {
  let server: TestServer;
  let admin: string;
  /** public, web_origins absent: its redirect origins */
  let spa: ClientCredentials;
  /** public, web_origins []: none */
  let spaWithout: ClientCredentials;
  /** confidential, web_origins [PARTNER] */
  let partner: ClientCredentials;
  /** confidential, web_origins absent: none (its redirect origin included) */
  let backend: ClientCredentials;

  async function register(body: Record<string, unknown>): Promise<ClientCredentials> {
    const res = await call(server, admin, 'POST', '/clients', body);
    expect({ status: res.status, body: res.status === 201 ? undefined : res.body }).toEqual({ status: 201, body: undefined });
    return { clientId: res.body.client_id, clientSecret: res.body.client_secret };
  }

  beforeAll(async () => {
    server = await startTestServer();
    admin = await adminToken(server);
    await call(server, admin, 'POST', '/resources', { identifier: API, scopes: ['read'] });
    spa = await register({
      name: 'spa', grant_types: ['authorization_code'], public: true, scopes: ['openid'],
      redirect_uris: [`${SPA_ORIGIN}/callback`, `${DEV_ORIGIN}/callback`, `${SPA_ORIGIN}/other`],
    });
    spaWithout = await register({ name: 'spa without cors', grant_types: ['authorization_code'], public: true, redirect_uris: [`${SPA_ORIGIN}/callback`], web_origins: [] });
    partner = await register({
      name: 'partner', grant_types: ['authorization_code', 'client_credentials'], redirect_uris: [REDIRECT_URI], scopes: ['openid', 'read'],
      web_origins: [PARTNER], introspect_for: [API],
    });
    backend = await register({ name: 'backend', grant_types: ['authorization_code', 'client_credentials'], redirect_uris: [REDIRECT_URI], scopes: ['openid', 'read'] });
    await server.createUser(USER);
  }, 60_000);

  afterAll(async () => { await server?.stop(); });

  const post = (path: string, params: Record<string, string>, client: ClientCredentials, origin: string) =>
    postAsClient(`${server.url}${path}`, params, client, { headers: { origin } });
  const clientCredentials = { grant_type: 'client_credentials', resource: API, scope: 'read' };
  /** a token request of a public client that fails only on its code: whether the browser may read the answer is CORS's alone */
  const bogusCode = { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: `${SPA_ORIGIN}/callback`, code_verifier: 'v'.repeat(43) };

  describe('registration', () => {
    test('the admin API shows web_origins as registered (null: the default) and the origins in effect', async () => {
      const shown = async (client: ClientCredentials) => (await call(server, admin, 'GET', `/clients/${client.clientId}`)).body;
      // each origin once
      expect(await shown(spa)).toMatchObject({ web_origins: null, effective_web_origins: [SPA_ORIGIN, DEV_ORIGIN] });
      expect(await shown(spaWithout)).toMatchObject({ web_origins: [], effective_web_origins: [] });
      expect(await shown(partner)).toMatchObject({ web_origins: [PARTNER], effective_web_origins: [PARTNER] });
      expect(await shown(backend)).toMatchObject({ web_origins: null, effective_web_origins: [] });
    });

    test.each([
      ['a path', ['https://spa.cors.test/app']],
      ['a trailing slash', ['https://spa.cors.test/']],
      ['http off loopback', ['http://spa.cors.test']],
      ['a wildcard host', ['https://*.cors.test']],
      ['"*" beside an origin', ['*', PARTNER]],
      ['upper case', ['https://SPA.cors.test']],
      ['no scheme', ['spa.cors.test']],
      ['a custom scheme', ['com.example.app://x']],
    ])('an origin with %s is refused (400, field web_origins)', async (_what, origins) => {
      const res = await call(server, admin, 'POST', '/clients', { name: 'bad origins', grant_types: ['client_credentials'], web_origins: origins });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'web_origins' })]);
    });

    test('the CLI: clients create --web-origins, update --web-origins "" and --default-web-origins', async () => {
      const tessera = (args: string[]) => runTesseraCli(args, adminCliEnv(server));
      const created = await tessera(['clients', 'create', '--name', 'cli spa', '--grant-types', 'authorization_code', '--public',
        '--redirect-uris', `${SPA_ORIGIN}/cb`, '--web-origins', `${PARTNER},${DEV_ORIGIN}`, '--json']);
      expect(created.code).toBe(0);
      expect(created.json).toMatchObject({ web_origins: [PARTNER, DEV_ORIGIN], effective_web_origins: [PARTNER, DEV_ORIGIN] });
      const id = created.json.client_id as string;
      const none = await tessera(['clients', 'update', id, '--web-origins', '', '--json']);
      expect(none.json).toMatchObject({ web_origins: [], effective_web_origins: [] });
      const back = await tessera(['clients', 'update', id, '--default-web-origins', '--json']);
      expect(back.json).toMatchObject({ web_origins: null, effective_web_origins: [SPA_ORIGIN] });
      const refused = await tessera(['clients', 'update', id, '--web-origins', 'https://spa.cors.test/app']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/web_origins/);
    }, 30_000);

    test('PATCH: a list replaces, null goes back to the default; changes are audited', async () => {
      const created = await register({ name: 'patched', grant_types: ['authorization_code'], public: true, redirect_uris: [`${SPA_ORIGIN}/cb`] });
      const set = await call(server, admin, 'PATCH', `/clients/${created.clientId}`, { web_origins: [PARTNER, 'http://127.0.0.1:8080'] });
      expect(set.body).toMatchObject({ web_origins: [PARTNER, 'http://127.0.0.1:8080'], effective_web_origins: [PARTNER, 'http://127.0.0.1:8080'] });
      const any = await call(server, admin, 'PATCH', `/clients/${created.clientId}`, { web_origins: ['*'] });
      expect(any.body).toMatchObject({ web_origins: ['*'] });
      const back = await call(server, admin, 'PATCH', `/clients/${created.clientId}`, { web_origins: null });
      expect(back.body).toMatchObject({ web_origins: null, effective_web_origins: [SPA_ORIGIN] });
      const audit = await call(server, admin, 'GET', `/audit?subject=${encodeURIComponent(created.clientId)}&type=client.updated`);
      const details = audit.body.items.map((e: { details: Record<string, unknown> }) => e.details);
      expect(details).toEqual(expect.arrayContaining([
        expect.objectContaining({ fields: ['web_origins'], web_origins: ['*'], web_origins_any: true }),
        expect.objectContaining({ fields: ['web_origins'], web_origins: null }),
      ]));
    });
  });

  describe('token endpoint', () => {
    test('a confidential client with web_origins: its origin reads the token; another origin is refused without CORS headers', async () => {
      const allowed = await post('/token', clientCredentials, partner, PARTNER);
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get(ACAO)).toBe(PARTNER);
      expect(allowed.headers.get('access-control-expose-headers')).toMatch(/DPoP-Nonce/i);
      const refused = await post('/token', clientCredentials, partner, EVIL);
      expect(refused.status).toBe(400);
      expect(JSON.parse(refused.text)).toMatchObject({ error: 'invalid_request' });
      expect(refused.headers.get(ACAO)).toBeNull();
    });

    test('a confidential client without web_origins: no origin, not even its redirect origin', async () => {
      for (const origin of [APP_ORIGIN, PARTNER]) {
        const res = await post('/token', clientCredentials, backend, origin);
        expect({ origin, status: res.status, acao: res.headers.get(ACAO) }).toEqual({ origin, status: 400, acao: null });
      }
      // without an Origin (a server) it works as ever
      expect((await postAsClient(`${server.url}/token`, clientCredentials, backend)).status).toBe(200);
    });

    test('a public client: its redirect origins (loopback http included), no other; "null" never', async () => {
      for (const origin of [SPA_ORIGIN, DEV_ORIGIN]) {
        const res = await post('/token', bogusCode, spa, origin);
        // the code is refused, and the app may read why
        expect({ status: res.status, error: JSON.parse(res.text).error, acao: res.headers.get(ACAO) }).toEqual({ status: 400, error: 'invalid_grant', acao: origin });
      }
      for (const origin of [EVIL, 'null', APP_ORIGIN, `${SPA_ORIGIN}:8443`, 'http://spa.cors.test']) {
        const res = await post('/token', bogusCode, spa, origin);
        expect({ origin, error: JSON.parse(res.text).error, acao: res.headers.get(ACAO) }).toEqual({ origin, error: 'invalid_request', acao: null });
      }
    });

    test('a public client with web_origins []: none', async () => {
      const res = await post('/token', { ...bogusCode }, spaWithout, SPA_ORIGIN);
      expect({ error: JSON.parse(res.text).error, acao: res.headers.get(ACAO) }).toEqual({ error: 'invalid_request', acao: null });
    });

    test('an unknown client: no CORS headers, whatever the origin; a wrong secret: only the client\'s own origin reads why', async () => {
      const unknown = await post('/token', bogusCode, { clientId: 'no-such-client' }, SPA_ORIGIN);
      expect(unknown.status).toBe(401);
      expect(unknown.headers.get(ACAO)).toBeNull();
      const wrongSecret = await post('/token', clientCredentials, { clientId: partner.clientId, clientSecret: 'wrong' }, EVIL);
      expect(wrongSecret.status).toBe(400);
      expect(wrongSecret.headers.get(ACAO)).toBeNull();
      const ownOrigin = await post('/token', clientCredentials, { clientId: partner.clientId, clientSecret: 'wrong' }, PARTNER);
      expect(ownOrigin.status).toBe(401);
      expect(ownOrigin.headers.get(ACAO)).toBe(PARTNER);
    });

    test('a preflight names no client: it is answered for any origin, and the request that follows is refused before any work', async () => {
      const res = await fetch(`${server.url}/token`, { method: 'OPTIONS', headers: { origin: EVIL, 'access-control-request-method': 'POST', 'access-control-request-headers': 'dpop' } });
      expect(res.status).toBe(204);
      expect(res.headers.get(ACAO)).toBe(EVIL);
      expect(res.headers.get('access-control-allow-methods')).toBe('POST');
    });
  });

  describe('userinfo', () => {
    test('a confidential client\'s token: its web_origins only; its redirect origin no longer (a change from earlier versions)', async () => {
      const tokens = await codeFlow({ baseUrl: server.url, client: partner, user: USER, scope: 'openid' });
      const me = (origin: string, token = tokens.access_token) => fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${token}`, origin } });
      const allowed = await me(PARTNER);
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get(ACAO)).toBe(PARTNER);
      for (const origin of [APP_ORIGIN, EVIL]) {
        const refused = await me(origin);
        expect({ origin, status: refused.status, acao: refused.headers.get(ACAO) }).toEqual({ origin, status: 400, acao: null });
      }
      // an invalid token establishes no client: no CORS headers
      const invalid = await me(PARTNER, 'not-a-token');
      expect(invalid.status).toBe(401);
      expect(invalid.headers.get(ACAO)).toBeNull();
    }, 30_000);

    test('a confidential client without web_origins: none', async () => {
      const tokens = await codeFlow({ baseUrl: server.url, client: backend, user: USER, scope: 'openid' });
      const res = await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}`, origin: APP_ORIGIN } });
      expect(res.headers.get(ACAO)).toBeNull();
    }, 30_000);
  });

  describe('introspection and revocation', () => {
    test('its web_origins only; a client without any gets no CORS headers', async () => {
      const token = JSON.parse((await postAsClient(`${server.url}/token`, clientCredentials, partner)).text).access_token as string;
      for (const path of ['/token/introspection', '/token/revocation']) {
        const allowed = await post(path, { token }, partner, PARTNER);
        expect({ path, status: allowed.status, acao: allowed.headers.get(ACAO) }).toEqual({ path, status: 200, acao: PARTNER });
        const refused = await post(path, { token }, partner, EVIL);
        expect({ path, status: refused.status, acao: refused.headers.get(ACAO) }).toEqual({ path, status: 400, acao: null });
        const other = await post(path, { token }, backend, PARTNER);
        expect({ path, acao: other.headers.get(ACAO) }).toEqual({ path, acao: null });
      }
    });
  });

  describe('open and closed', () => {
    test('discovery and the JWKS are open to every origin', async () => {
      for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks']) {
        const res = await fetch(`${server.url}${path}`, { headers: { origin: EVIL } });
        expect({ path, status: res.status, acao: res.headers.get(ACAO) }).toEqual({ path, status: 200, acao: EVIL });
      }
    });

    test('the admin API, the pages, /account and operations never send CORS headers, preflights included', async () => {
      const authorize = `/auth?client_id=${spa.clientId}&response_type=code&redirect_uri=${encodeURIComponent(`${SPA_ORIGIN}/callback`)}&scope=openid&code_challenge=${'c'.repeat(43)}&code_challenge_method=S256`;
      const requests: Array<[string, RequestInit]> = [
        ['/admin/v1/clients', { headers: { authorization: `Bearer ${admin}`, origin: SPA_ORIGIN } }],
        ['/admin/v1/clients', { method: 'OPTIONS', headers: { origin: SPA_ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } }],
        ['/admin/v1/openapi.json', { headers: { origin: SPA_ORIGIN } }],
        [authorize, { headers: { origin: SPA_ORIGIN }, redirect: 'manual' }],
        ['/account', { headers: { origin: SPA_ORIGIN }, redirect: 'manual' }],
        ['/account', { method: 'OPTIONS', headers: { origin: SPA_ORIGIN, 'access-control-request-method': 'POST' } }],
        ['/healthz', { headers: { origin: SPA_ORIGIN } }],
      ];
      const interaction = await fetch(`${server.url}${authorize}`, { redirect: 'manual' });
      const page = interaction.headers.get('location');
      expect(page).toMatch(/^\/interaction\//);
      requests.push([page!, { headers: { origin: SPA_ORIGIN, cookie: interaction.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ') } }]);
      for (const [path, init] of requests) {
        const res = await fetch(`${server.url}${path}`, init);
        const cors = [...res.headers.keys()].filter((name) => name.startsWith('access-control-'));
        expect({ path: path.slice(0, 40), method: init.method ?? 'GET', cors }).toEqual({ path: path.slice(0, 40), method: init.method ?? 'GET', cors: [] });
      }
    });
  });
});
