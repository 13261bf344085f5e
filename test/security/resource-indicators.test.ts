// RFC 8707 resource indicators, the same way in every grant: each grant takes
// `resource`, refuses an unknown (or malformed) one with invalid_target, refuses
// a resource whose scopes the client may not have with invalid_target (absent
// means nothing), puts the resource in the token's audience (JWT `aud`,
// introspection `aud` for opaque tokens), and applies the one scope rule
// (issued ⊆ allow-list ∩ the resource's scopes). The device grant (RFC 8628)
// takes `resource` at /device/auth and at /token. Token exchange (RFC 8693)
// has a row too: its own policy (token_exchange_audiences, JWT resources only)
// comes first, then the same resolution. A grant added later gets a row here.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { decodeJwt } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorize, postAsClient, tokenRequest, type TokenResponse } from '../support/oauth.ts';
import { BrowserAgent, formWithButton, headingOf } from '../support/browser-agent.ts';

const JWT_API = 'https://indicators-jwt.example.test';
const OPAQUE_API = 'https://indicators-opaque.example.test';
/** a resource server offering nothing the client is allowed */
const CLOSED_API = 'https://indicators-closed.example.test';
const UNKNOWN_API = 'https://indicators-unknown.example.test';
const REDIRECT_URI = 'https://indicators-app.example.test/cb';
const USER = { username: 'indicators-user', password: 'indicators-password' };

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
type Grant = 'authorization_code' | 'refresh_token' | 'client_credentials' | 'password' | typeof DEVICE_CODE | typeof TOKEN_EXCHANGE;
const GRANTS: Grant[] = ['authorization_code', 'refresh_token', 'client_credentials', 'password', DEVICE_CODE, TOKEN_EXCHANGE];

describe('resource indicators: every grant honours them the same way', () => {
  let server: TestServer;
  let client: { clientId: string; clientSecret?: string };

  beforeAll(async () => {
    server = await startTestServer();
    await server.createUser(USER);
    await server.services.resources.create({ identifier: JWT_API, scopes: ['read', 'write'], tokenFormat: 'jwt' });
    await server.services.resources.create({ identifier: OPAQUE_API, scopes: ['read', 'write'], tokenFormat: 'opaque' });
    await server.services.resources.create({ identifier: CLOSED_API, scopes: ['secret'], tokenFormat: 'jwt' });
    // first party: the password grant is only for those; consent is skipped, which changes nothing about resources
    client = await server.createClient({
      name: 'indicators', grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', 'password', DEVICE_CODE, TOKEN_EXCHANGE], redirectUris: [REDIRECT_URI],
      firstParty: true, scopes: ['openid', 'offline_access', 'read'],
      // the exchange policy names the resources, so that what refuses the others is the resolution every grant shares
      tokenExchangeAudiences: [JWT_API, OPAQUE_API, CLOSED_API],
    });
  });

  afterAll(async () => { await server?.stop(); });

  /** A refresh token from a code flow granted `read` at both APIs (what a later refresh may narrow to). */
  async function refreshTokenFor(resource: string): Promise<string> {
    const flow = await authorize({
      baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: 'openid offline_access read', user: USER,
      params: { prompt: 'consent', resource },
    });
    const exchanged = await tokenRequest(server.url, {
      grant_type: 'authorization_code', code: flow.code!, redirect_uri: REDIRECT_URI, code_verifier: flow.verifier, resource,
    }, client);
    expect(exchanged.status).toBe(200);
    return exchanged.body.refresh_token!;
  }

  /** One token request of `grant` for `resource` with `scope`; /auth refusals come back as a 400 with its error. */
  async function obtain(grant: Grant, resource: string, scope: string, refreshGrantedFor = resource === OPAQUE_API ? OPAQUE_API : JWT_API): Promise<TokenResponse> {
    switch (grant) {
      case 'client_credentials':
        return tokenRequest(server.url, { grant_type: grant, resource, scope }, client);
      case 'password':
        return tokenRequest(server.url, { grant_type: grant, username: USER.username, password: USER.password, resource, scope }, client);
      case 'refresh_token': {
        // the refresh token is granted for `refreshGrantedFor`; the refresh asks for `resource`
        const refreshToken = await refreshTokenFor(refreshGrantedFor);
        return tokenRequest(server.url, { grant_type: grant, refresh_token: refreshToken, resource, scope }, client);
      }
      case DEVICE_CODE: {
        // the device asks with `resource`; the person enters the code on /device and signs in (first party: no consent)
        const started = await postAsClient(`${server.url}/device/auth`, { scope, resource }, client);
        const device = JSON.parse(started.text) as { device_code?: string; user_code?: string; error?: string };
        if (started.status !== 200) return { status: started.status, headers: started.headers, text: started.text, body: { error: device.error } };
        const agent = new BrowserAgent();
        const entry = await agent.request(`${server.url}/device`);
        const confirmation = (await agent.submit(entry, formWithButton(entry.text, 'Continue'), { user_code: device.user_code! })).response;
        let step = await agent.submit(confirmation, formWithButton(confirmation.text, 'Continue'));
        if (headingOf(step.response.text) === 'Sign in') step = await agent.submit(step.response, formWithButton(step.response.text, 'Sign in'), USER);
        return tokenRequest(server.url, { grant_type: grant, device_code: device.device_code!, resource }, client);
      }
      case TOKEN_EXCHANGE: {
        // the subject: a person's token for JWT_API issued to this client (which may exchange its own tokens)
        const subject = await tokenRequest(server.url, { grant_type: 'password', username: USER.username, password: USER.password, resource: JWT_API, scope: 'read' }, client);
        expect(subject.status).toBe(200);
        return tokenRequest(server.url, {
          grant_type: grant, subject_token: subject.body.access_token!, subject_token_type: ACCESS_TOKEN_TYPE, resource, scope,
        }, client);
      }
      case 'authorization_code': {
        const flow = await authorize({
          baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: `openid ${scope}`, user: USER, params: { resource },
        });
        if (!flow.code) {
          const error = flow.callback.searchParams.get('error') ?? 'none';
          return { status: 400, headers: new Headers(), text: '', body: { error } };
        }
        return tokenRequest(server.url, {
          grant_type: grant, code: flow.code, redirect_uri: REDIRECT_URI, code_verifier: flow.verifier, resource,
        }, client);
      }
    }
  }

  /** The audience and scope of an access token: from the JWT, or by introspection (the token's own client) */
  async function audienceAndScope(token: string, format: 'jwt' | 'opaque'): Promise<{ aud: unknown; scope: unknown }> {
    if (format === 'jwt') {
      const claims = decodeJwt(token);
      return { aud: claims.aud, scope: claims.scope };
    }
    const answer = await postAsClient(`${server.url}/token/introspection`, { token }, client);
    const body = JSON.parse(answer.text) as { active: boolean; aud?: unknown; scope?: unknown };
    expect(body.active).toBe(true);
    return { aud: body.aud, scope: body.scope };
  }

  describe.each(GRANTS)('%s', (grant) => {
    // token exchange issues JWTs only: an opaque resource is invalid_target there (below)
    test.each(grant === TOKEN_EXCHANGE ? [['jwt', JWT_API]] as const : [['jwt', JWT_API], ['opaque', OPAQUE_API]] as const)('a %s resource: its audience, the allowed scopes only', async (format, resource) => {
      // `write` is offered by the resource and not allowed to the client: narrowed away (a refresh, or
      // an exchange, may only ask for what was granted, RFC 6749 §6, RFC 8693: `write` there is invalid_scope)
      const res = await obtain(grant, resource, grant === 'refresh_token' || grant === TOKEN_EXCHANGE ? 'read' : 'read write');
      expect([res.status, res.body.error]).toEqual([200, undefined]);
      expect(res.body.scope).toBe('read');
      const { aud, scope } = await audienceAndScope(res.body.access_token!, format);
      expect([aud].flat()).toEqual([resource]);
      expect(scope).toBe('read');
    });

    test.each([
      ['an unknown resource', UNKNOWN_API],
      ['a resource offering nothing the client may have', CLOSED_API],
      ['a resource that is not an absolute URI', 'indicators-api'],
      ['a resource with a fragment', `${JWT_API}#part`],
      ['the admin API (a person\'s grant or a non-admin client)', 'ADMIN'],
      ['a resource the refresh token was not granted for, or one the client may have nothing of', 'OTHER'],
      ...(grant === TOKEN_EXCHANGE ? [['an opaque resource (token exchange issues JWTs only)', OPAQUE_API]] : []),
    ])('%s: invalid_target', async (_name, resource) => {
      const target = resource === 'ADMIN' ? `${server.issuer}/admin` : resource === 'OTHER' ? (grant === 'refresh_token' ? OPAQUE_API : CLOSED_API) : resource;
      const res = await obtain(grant, target, 'read', JWT_API);
      expect([res.status, res.body.error]).toEqual([400, 'invalid_target']);
      expect(res.body.access_token).toBeUndefined();
    });
  });

  test('refresh_token: a scope that was not granted is invalid_scope (RFC 6749 §6), never a widening', async () => {
    const refreshToken = await refreshTokenFor(JWT_API);
    const res = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: refreshToken, resource: JWT_API, scope: 'read write' }, client);
    expect([res.status, res.body.error]).toEqual([400, 'invalid_scope']);
  });
});
