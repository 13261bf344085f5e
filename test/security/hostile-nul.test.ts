/*
 * An attacker's review of token exchange and RP-initiated logout (issue 14),
 * against a real server: the findings that did not hold, each with the
 * threat row of docs/security.md that names this test.
 *
 * T174: a client registered for token exchange put a NUL into a parameter the
 * exchange records (`audience=https://x/%00`); Postgres refuses NUL in JSON,
 * so the refusal's audit event failed its batch, which was kept and retried
 * with every event queued behind it: from then on no event of any request
 * reached the audit log.
 * T175: a NUL in a client_id (a parameter, or the claims of an id_token_hint),
 * a resource or a login_hint answered 500 at /auth, /token,
 * /token/introspection and /session/end.
 * T177: dynamic registration (a JSON body, which the input limits do not
 * read): a NUL in a redirect_uri or post_logout_redirect_uri was a 500.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { tokenRequest, type ClientCredentials } from '../support/oauth.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { codeFlow, REDIRECT_URI } from '../tokens/token-flows.ts';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const API_A = 'https://a.attacks.test';
const API_B = 'https://b.attacks.test';
const PASSWORD = 'a long and unguessable passphrase';

/** A JWT that is only its claims (no valid signature): what an attacker can put in a hint or an assertion. */
const unsignedJwt = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"ES256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

function suite(setup: { label: string; database: 'memory' | 'postgres'; redis: boolean }) {
  describe(`hostile NUL characters, ${setup.label}`, () => {
    let server: TestServer;
    let app: ClientCredentials;
    let service: ClientCredentials;
    let admin: string;

    beforeAll(async () => {
      server = await startTestServer({ database: setup.database, redis: setup.redis, config: { dynamicRegistration: { mode: 'token' } } });
      await server.services.resources.create({ identifier: API_A, scopes: ['read'], tokenFormat: 'jwt' });
      await server.services.resources.create({ identifier: API_B, scopes: ['read'], tokenFormat: 'jwt' });
      app = await server.createClient({ name: 'app', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], postLogoutRedirectUris: ['https://app.example.test/bye'], scopes: ['openid', 'read'] });
      service = await server.createClient({ name: 'service', grantTypes: [TOKEN_EXCHANGE], scopes: ['read'], introspectFor: [API_A], tokenExchangeAudiences: [API_B] } as never);
      await server.createUser({ username: 'attacked', password: PASSWORD });
      admin = await adminToken(server);
    }, 60_000);
    afterAll(async () => { await server?.stop(); });

    test('T174: a NUL in an exchange parameter is refused as invalid_request, and the audit log keeps recording what follows', async () => {
      const { access_token: subject } = await codeFlow({ baseUrl: server.url, client: app, user: { username: 'attacked', password: PASSWORD }, scope: 'read', resource: API_A });
      const exchange = (extra: Record<string, string>) => tokenRequest(server.url, { grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN, subject_token: subject, ...extra }, service);
      const hostiles: Array<Record<string, string>> = [{ audience: 'https://x.attacks.test/\u0000' }, { resource: API_B, scope: 'read\u0000' }, { resource: API_B, actor_token: 'a\u0000b', actor_token_type: ACCESS_TOKEN }];
      for (const hostile of hostiles) {
        const refused = await exchange(hostile);
        expect({ hostile, status: refused.status, body: refused.body }).toEqual({ hostile, status: 400, body: { error: 'invalid_request', error_description: 'a body parameter contains a NUL character' } });
      }
      // the next exchange, and its audit event, as before
      const issued = await exchange({ resource: API_B });
      expect(issued.status).toBe(200);
      await server.services.audit.flush();
      const events = await call(server, admin, 'GET', `/audit?type=token.exchanged&client=${service.clientId}`);
      expect(events.status).toBe(200);
      expect(events.body.items).toHaveLength(1);
      expect(events.body.items[0]).toMatchObject({ details: { audience: API_B } });
    });

    test('T175: a NUL in a client id, resource or login_hint is a 400 (or the unknown client it is), never a 500', async () => {
      const authorize = (params: Record<string, string>) => fetch(`${server.url}/auth?${new URLSearchParams({
        client_id: app.clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', ...params,
      })}`, { redirect: 'manual' });
      const form = (path: string, body: Record<string, string>) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
      const answers: Record<string, number> = {
        'GET /auth client_id': (await authorize({ client_id: 'a\u0000b' })).status,
        'GET /auth resource': (await authorize({ resource: 'https://x.attacks.test/\u0000' })).status,
        'GET /auth login_hint': (await authorize({ login_hint: 'a\u0000b' })).status,
        'POST /token client_id': (await form('/token', { grant_type: 'client_credentials', client_id: 'a\u0000b', client_secret: 'x' })).status,
        'POST /token/introspection client_id': (await form('/token/introspection', { token: 'x', client_id: 'a\u0000b', client_secret: 'x' })).status,
        'GET /session/end client_id': (await fetch(`${server.url}/session/end?${new URLSearchParams({ client_id: 'a\u0000b', post_logout_redirect_uri: 'https://app.example.test/bye' })}`)).status,
      };
      expect(answers).toEqual({
        'GET /auth client_id': 400,
        'GET /auth resource': 400,
        'GET /auth login_hint': 400,
        'POST /token client_id': 400,
        'POST /token/introspection client_id': 400,
        'GET /session/end client_id': 400,
      });
      // a NUL no input limit sees: inside the claims of a JWT (percent-encoding and base64url carry none)
      const hint = await fetch(`${server.url}/session/end?${new URLSearchParams({ id_token_hint: unsignedJwt({ aud: 'a\u0000b', iss: server.issuer }), post_logout_redirect_uri: 'https://app.example.test/bye' })}`);
      expect(hint.status).toBe(400);
      // nor in Basic credentials (RFC 6749 §2.3.1: the client_id form-encoded inside base64)
      const basic = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('a%00b:secret').toString('base64')}` },
        body: 'grant_type=client_credentials',
      });
      const basicAnswer = { status: basic.status, body: await basic.json() };
      expect(basicAnswer).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    });

    test('T177: dynamic registration refuses a redirect URI holding a control character (invalid_client_metadata), never a 500', async () => {
      const initialAccessToken = (await call(server, admin, 'POST', '/registration-tokens', { uses: 5 })).body.initial_access_token as string;
      const register = async (metadata: Record<string, unknown>) => {
        const res = await fetch(`${server.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${initialAccessToken}` }, body: JSON.stringify(metadata) });
        return { status: res.status, body: await res.json() as Record<string, unknown> };
      };
      for (const metadata of [
        { redirect_uris: ['https://rp.attacks.test/cb\u0000'] },
        { redirect_uris: ['https://rp.attacks.test/cb'], post_logout_redirect_uris: ['https://rp.attacks.test/\u0000'] },
        { redirect_uris: ['https://rp.attacks.test/cb\r\nLocation: https://evil.attacks.test/'] },
      ]) {
        expect({ metadata, ...(await register(metadata)) }).toMatchObject({ metadata, status: 400, body: { error: 'invalid_client_metadata' } });
      }
      // the token was not spent by the refusals
      expect((await register({ client_name: 'fine', redirect_uris: ['https://rp.attacks.test/cb'] })).status).toBe(201);
    });
  });
}

suite({ label: 'embedded PGlite', database: 'memory', redis: false });
describeWithService('Postgres and Redis', (await postgresUp()) && (await redisUp()))('on Postgres', () => {
  suite({ label: 'Postgres and Redis', database: 'postgres', redis: true });
});
