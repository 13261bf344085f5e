// The admin API's authorization matrix: every route the admin router serves
// (read from the live router, so a route added tomorrow is covered without
// touching this file) × every kind of credential an attacker can hold. Only a
// valid admin token reaches a handler; everything else is refused by the
// guard with 401/403 problem+json.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import type Router from '@koa/router';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose';
import { ADMIN_PREFIX, readAdminCredentials } from '../../src/admin/index.ts';
import { loadOrCreateKeys } from '../../src/keys/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorize, tokenRequest } from '../support/oauth.ts';
import { adminToken, adminTokenRequest, call, type Reply } from '../admin/admin-api.ts';
import { tokenEndpoint } from '../tokens/token-flows.ts';

const OTHER_API = 'https://matrix-api.example.test';
const REDIRECT_URI = 'https://matrix-app.example.test/cb';
const USER = { username: 'matrix-user', password: 'matrix-user-password' };

interface RouteCase { method: string; template: string; path: string }

/** A credential as sent: request headers, or why there is nothing to send. */
interface Credential {
  headers?: Record<string, string>;
  /** why there is nothing to send: /auth, /token or the registration refused it */
  refused?: string;
  /** the answer must be this status (e.g. 403 insufficient_scope), not merely 401 or 403 */
  status?: 401 | 403;
}

/** The admin router, found among the app's middleware (koa-router's dispatch carries its router). */
function adminRouter(server: TestServer): Router {
  const dispatch = server.app.middleware.find((mw) => (mw as { router?: Router }).router?.opts.prefix === ADMIN_PREFIX);
  if (!dispatch) throw new Error(`no router with prefix ${ADMIN_PREFIX} among the app's middleware`);
  return (dispatch as unknown as { router: Router }).router;
}

/** A plausible value for a path parameter: it names nothing that exists. */
const valueFor = (name: string) => (/identifier|uri|url/i.test(name) ? 'https://matrix-none.example.test/api' : `matrix-no-such-${name}`);

// methods fetch can send; the catch-all route answers every method
const SENDABLE = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * Every (method, path) the admin router serves, path parameters filled in.
 * Routes the OpenAPI document (built from the same table) declares public
 * (`security: []`) are left out; the test checks which those are.
 */
function routeTable(router: Router, publicRoutes: Set<string>): RouteCase[] {
  const cases: RouteCase[] = [];
  for (const layer of router.stack) {
    if (!layer.methods.length) continue; // router.use() middleware: the error handler, the guard
    const template = String(layer.path);
    const path = template
      .replace(/\{\/\*\w+\}/g, '/matrix-no-such-endpoint')
      .replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(valueFor(name)));
    for (const method of new Set(layer.methods.filter((m) => SENDABLE.includes(m)))) {
      if (!publicRoutes.has(`${method} ${template}`)) cases.push({ method, template, path });
    }
  }
  return cases;
}

/** "GET /admin/v1/users/:id" for each operation the OpenAPI document marks `security: []`. */
function publicOperations(openapi: { paths: Record<string, Record<string, { security?: unknown[] }>> }): Set<string> {
  const result = new Set<string>();
  for (const [path, operations] of Object.entries(openapi.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (Array.isArray(operation.security) && operation.security.length === 0) {
        result.add(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
        if (method === 'get') result.add(`HEAD ${path.replace(/\{(\w+)\}/g, ':$1')}`);
      }
    }
  }
  return result;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function send(server: TestServer, route: RouteCase, headers: Record<string, string>): Promise<Reply> {
  const hasBody = ['POST', 'PUT', 'PATCH'].includes(route.method);
  const res = await fetch(`${server.url}${route.path}`, {
    method: route.method,
    headers: { ...headers, ...(hasBody ? { 'content-type': 'application/json' } : {}) },
    body: hasBody ? '{}' : undefined,
  });
  const text = await res.text();
  let body: unknown = text;
  try { body = text ? JSON.parse(text) : undefined; } catch { /* keep the text */ }
  return { status: res.status, headers: res.headers, body };
}

/** The admin token's claims re-signed with `key` (the server's own or a stranger's), with changes. */
async function resign(token: string, key: CryptoKey | Uint8Array, kid: string | undefined, changes: JWTPayload): Promise<string> {
  const header = decodeProtectedHeader(token);
  return new SignJWT({ ...decodeJwt(token), ...changes })
    .setProtectedHeader({ alg: header.alg!, typ: header.typ, ...(kid ? { kid } : {}) })
    .sign(key);
}

describe('admin API authorization matrix', () => {
  let server: TestServer;
  let routes: RouteCase[] = [];
  let combinations = 0;
  const credentials = new Map<string, Credential>();

  // Every credential but the last must be stopped by the guard.
  const ATTACKS = [
    'no Authorization header',
    'malformed: garbage',
    'malformed: "Bearer" alone',
    'malformed: Basic credentials',
    'malformed: bearer token with spaces',
    'expired admin JWT (server key, exp in the past)',
    'admin claims signed by an unknown key (server kid)',
    'admin claims with alg none',
    'an ID token',
    'access token for another audience',
    'admin-audience token without the admin scope',
    'admin-audience JWT without the admin scope (server key)',
    'admin JWT naming a client whose allow-list lacks admin (server key)',
    'admin token of a deleted client',
    'revoked admin token',
    'token of a client registered without a scope list, asking for admin',
    'admin token of a public client (no secret) whose allow-list names admin',
    'password-grant token (first-party client, user) for the admin resource',
    'authorization-code (browser session) token for the admin resource',
    'browser session cookies',
  ];

  beforeAll(async () => {
    server = await startTestServer();
    const admin = readAdminCredentials(server.config.keysDir, {})!;
    const adminClient = { clientId: admin.client_id, clientSecret: admin.client_secret };
    const valid = await adminToken(server);
    const expectHandlerReached = async (headers: Record<string, string>) => expect((await call(server, undefined, 'GET', '/keys', undefined, headers)).status).toBe(200);
    // control: the valid token gets in, so refusals below are the guard's doing
    await expectHandlerReached(bearer(valid));
    await server.createUser(USER);
    await server.services.resources.create({ identifier: OTHER_API, scopes: ['read'], tokenFormat: 'jwt' });

    credentials.set('no Authorization header', { headers: {} });
    credentials.set('malformed: garbage', { headers: { authorization: 'garbage' } });
    credentials.set('malformed: "Bearer" alone', { headers: { authorization: 'Bearer' } });
    credentials.set('malformed: Basic credentials', { headers: { authorization: 'Basic xxx' } });
    credentials.set('malformed: bearer token with spaces', { headers: { authorization: `Bearer ${valid.slice(0, 20)} ${valid.slice(20)}` } });

    // Forged from a real admin token's claims; the control proves the forgery
    // itself is sound (same key, future exp → accepted), so only exp differs.
    const serverKeys = await loadOrCreateKeys(server.config.keysDir);
    const { kid } = decodeProtectedHeader(valid);
    const signingJwk = serverKeys.signingKeys.keys.find((k) => k.kid === kid)!;
    const serverKey = await importJWK(signingJwk, signingJwk.alg);
    const now = Math.floor(Date.now() / 1000);
    await expectHandlerReached(bearer(await resign(valid, serverKey as CryptoKey, kid, { jti: `control-${now}`, exp: now + 300 })));
    credentials.set('expired admin JWT (server key, exp in the past)', {
      headers: bearer(await resign(valid, serverKey as CryptoKey, kid, { iat: now - 1200, nbf: now - 1200, exp: now - 600 })),
    });
    const stranger = await generateKeyPair('ES256', { extractable: true });
    await exportJWK(stranger.publicKey); // a real key pair, not a placeholder
    credentials.set('admin claims signed by an unknown key (server kid)', {
      headers: bearer(await resign(valid, stranger.privateKey, kid, { jti: `stranger-${now}` })),
    });
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    credentials.set('admin claims with alg none', {
      headers: bearer(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ ...decodeJwt(valid), jti: `none-${now}` })}.`),
    });

    // A first-party app of a person: password grant and the browser flow. Its
    // allow-list names `admin`: even so, only client_credentials may carry it.
    const app = await server.createClient({
      name: 'matrix first-party app', grantTypes: ['authorization_code', 'refresh_token', 'password'],
      redirectUris: [REDIRECT_URI], scopes: ['openid', 'profile', 'admin'], firstParty: true,
    });
    const password = await tokenRequest(server.url, { grant_type: 'password', ...USER, scope: 'openid profile' }, app);
    expect(password.body.id_token).toEqual(expect.any(String));
    credentials.set('an ID token', { headers: bearer(password.body.id_token!) });

    const passwordForAdmin = await tokenRequest(server.url, {
      grant_type: 'password', ...USER, scope: 'openid admin', resource: `${server.issuer}/admin`,
    }, app);
    credentials.set('password-grant token (first-party client, user) for the admin resource', passwordForAdmin.body.access_token
      ? { headers: bearer(passwordForAdmin.body.access_token) }
      : { refused: `/token: ${passwordForAdmin.status} ${passwordForAdmin.body.error}` });

    // a signed-in browser (its session), then the same browser asks for the admin resource
    const signedIn = await authorize({ baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI, scope: 'openid profile', user: USER });
    expect(signedIn.code).toEqual(expect.any(String));
    const browser = await authorize({
      baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI, scope: 'openid admin',
      params: { resource: `${server.issuer}/admin` }, user: USER, agent: signedIn.agent,
    });
    const exchanged = browser.code ? await tokenRequest(server.url, {
      grant_type: 'authorization_code', code: browser.code, redirect_uri: REDIRECT_URI, code_verifier: browser.verifier,
      resource: `${server.issuer}/admin`,
    }, app) : undefined;
    credentials.set('authorization-code (browser session) token for the admin resource', exchanged?.body.access_token
      ? { headers: bearer(exchanged.body.access_token) }
      : { refused: exchanged ? `/token: ${exchanged.status} ${exchanged.body.error}` : `/auth: ${browser.callback.searchParams.get('error')}` });
    const cookies = browser.agent.jar.header(`${server.url}${ADMIN_PREFIX}/users`);
    expect(cookies).not.toBe(''); // the session cookie is scoped to / and would be sent
    credentials.set('browser session cookies', { headers: { cookie: cookies } });

    // Another audience: a resource server of this test, its own scope.
    const job = await server.createClient({ name: 'matrix job', grantTypes: ['client_credentials'], scopes: ['read'] });
    const other = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: OTHER_API, scope: 'read' }, job);
    expect(other.status).toBe(200);
    credentials.set('access token for another audience', { headers: bearer(other.body.access_token!) });
    // The guard's own checks, whatever /token would issue: well-signed tokens
    // that lack the scope, or name a client that may not have it (issued after
    // that client was registered, so nothing but its allow-list refuses it).
    credentials.set('admin-audience JWT without the admin scope (server key)', {
      headers: bearer(await resign(valid, serverKey as CryptoKey, kid, { jti: `noscope-${now}`, scope: '' })), status: 403,
    });
    credentials.set('admin JWT naming a client whose allow-list lacks admin (server key)', {
      headers: bearer(await resign(valid, serverKey as CryptoKey, kid, { jti: `other-client-${now}`, client_id: job.clientId, sub: job.clientId, iat: Math.floor(Date.now() / 1000) })),
    });
    const withoutAdmin = await adminTokenRequest(server, job);
    credentials.set('admin-audience token without the admin scope', withoutAdmin.body.access_token
      ? { headers: bearer(withoutAdmin.body.access_token) }
      : { refused: `/token: ${withoutAdmin.status} ${withoutAdmin.body.error}` });

    // Finding 1: a client registered without a scope list asks for admin.
    const unlisted = await server.createClient({ name: 'matrix unlisted', grantTypes: ['client_credentials'] });
    const unlistedToken = await adminTokenRequest(server, unlisted, 'admin');
    credentials.set('token of a client registered without a scope list, asking for admin', unlistedToken.body.access_token
      ? { headers: bearer(unlistedToken.body.access_token) }
      : { refused: `/token: ${unlistedToken.status} ${unlistedToken.body.error}` });

    // A public client has no secret: anyone who knows its id is it, so even an
    // explicit admin allow-list must not make its client_credentials an admin token.
    let publicAdmin: Credential;
    try {
      const open = await server.createClient({ name: 'matrix public admin', grantTypes: ['client_credentials'], public: true, scopes: ['admin'] });
      const answer = await adminTokenRequest(server, open, 'admin');
      publicAdmin = answer.body.access_token ? { headers: bearer(answer.body.access_token) } : { refused: `/token: ${answer.status} ${answer.body.error}` };
    } catch (error) {
      publicAdmin = { refused: `registration: ${(error as Error).message}` };
    }
    credentials.set('admin token of a public client (no secret) whose allow-list names admin', publicAdmin);

    // A second client explicitly granted admin: its token works, then the client is deleted.
    const second = await server.createClient({ name: 'matrix second admin', grantTypes: ['client_credentials'], scopes: ['admin'] });
    const secondToken = (await adminTokenRequest(server, second, 'admin')).body.access_token!;
    await expectHandlerReached(bearer(secondToken));
    expect((await call(server, valid, 'DELETE', `/clients/${encodeURIComponent(second.clientId)}`)).status).toBe(200);
    credentials.set('admin token of a deleted client', { headers: bearer(secondToken) });

    // A fresh admin token, revoked by its own client at the revocation endpoint.
    const revoked = (await adminTokenRequest(server, adminClient, 'admin')).body.access_token!;
    await expectHandlerReached(bearer(revoked));
    expect((await tokenEndpoint(server.url, 'revocation', adminClient, { token: revoked, token_type_hint: 'access_token' })).status).toBe(200);
    credentials.set('revoked admin token', { headers: bearer(revoked) });

    credentials.set('valid admin token', { headers: bearer(valid) });

    const openapi = (await call(server, undefined, 'GET', '/openapi.json')).body;
    const publicRoutes = publicOperations(openapi);
    // the only route without a token is the document itself
    expect([...publicRoutes].sort()).toEqual([`GET ${ADMIN_PREFIX}/openapi.json`, `HEAD ${ADMIN_PREFIX}/openapi.json`]);
    routes = routeTable(adminRouter(server), publicRoutes);
    // the router and the OpenAPI document describe the same routes
    const documented = Object.entries(openapi.paths as Record<string, object>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
      .filter((op) => !publicRoutes.has(op));
    const served = routes.filter((r) => r.method !== 'HEAD' && !r.template.includes('{/*')).map((r) => `${r.method} ${r.template}`);
    expect(served.sort()).toEqual(documented.sort());
  });

  afterAll(async () => {
    console.log(`authorization matrix: ${routes.length} routes × ${ATTACKS.length + 1} credentials = ${combinations} combinations`);
    await server?.stop();
  });

  test.each(ATTACKS)('%s → 401/403 problem+json on every admin route', async (name) => {
    expect(routes.length).toBeGreaterThan(10);
    const credential = credentials.get(name)!;
    expect(credential).toBeDefined();
    if (!credential.headers) {
      // nothing to send: /auth or /token already refused to issue it (an OAuth error)
      combinations += routes.length;
      expect(credential.refused).toMatch(/^(\/token: 4\d\d [a-z_]+|\/auth: [a-z_]+|registration: .+)$/);
      return;
    }
    const reached: string[] = [];
    const malformed: string[] = [];
    for (const route of routes) {
      combinations++;
      const res = await send(server, route, credential.headers);
      const where = `${route.method} ${route.path} → ${res.status}`;
      if (res.status !== 401 && res.status !== 403) { reached.push(where); continue; }
      if (credential.status && res.status !== credential.status) malformed.push(`${where}: expected ${credential.status}`);
      const problems = [
        !/^application\/problem\+json/.test(res.headers.get('content-type') ?? '') && 'not problem+json',
        !/^Bearer\b/.test(res.headers.get('www-authenticate') ?? '') && 'no Bearer challenge',
        res.status === 403 && !/error="insufficient_scope"/.test(res.headers.get('www-authenticate') ?? '') && '403 without insufficient_scope',
      ].filter(Boolean);
      if (problems.length) malformed.push(`${where}: ${problems.join(', ')}`);
    }
    expect({ reachedTheHandler: reached, badRefusals: malformed }).toEqual({ reachedTheHandler: [], badRefusals: [] });
  });

  test('a valid admin token reaches the handler of every admin route', async () => {
    const refused: string[] = [];
    for (const route of routes) {
      combinations++;
      const res = await send(server, route, credentials.get('valid admin token')!.headers!);
      // 400/404/405 from made-up input prove the handler (or its validation) ran
      if (res.status === 401 || res.status === 403 || res.status >= 500) refused.push(`${route.method} ${route.path} → ${res.status}`);
    }
    expect(refused).toEqual([]);
  });
});
