// The token-exchange grant's handler on its own: a bare oidc-provider with
// static clients and the grant registered from `tokenExchangeGrant`
// (parameters + buildHandler(deps)), its dependencies given by the test. What
// the handler decides about a request before any token is looked at is
// checked here — the order of its checks, malformed and hostile parameters,
// and the audit of refusals; exchanges of real tokens inside Tessera (SQL and
// Redis token state) are test/integration/token-exchange.test.ts.
import { describe, test, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { tokenExchangeGrant, TOKEN_EXCHANGE_GRANT_TYPE, ACCESS_TOKEN_TYPE, type TokenExchangeDependencies } from '../../src/grants/index.ts';
import { tokenRequest } from '../support/oauth.ts';
import { answerUnauthorizedClient } from '../../src/provider/unauthorized-client.ts';

const API = 'https://api.token-exchange-handler.test';
const WITH_POLICY = { clientId: 'with-policy', clientSecret: 'with-policy-secret-with-policy-secret' };
const WITHOUT_POLICY = { clientId: 'without-policy', clientSecret: 'without-policy-secret-without-policy' };
const PUBLIC = { clientId: 'public' };
const NOT_REGISTERED = { clientId: 'not-registered', clientSecret: 'not-registered-secret-not-registered' };

describe('tokenExchangeGrant.buildHandler', () => {
  let server: Server;
  let url: string;
  // every subject or actor token the handler tried to read
  const looked: string[] = [];
  const audited: Array<{ type: string; details?: Record<string, unknown> }> = [];
  const now = Math.floor(Date.now() / 1000);
  const claims = { jti: 'jti-1', iat: now, exp: now + 300, client_id: 'app', sub: 'person-1', aud: API, scope: 'read' };
  const verified = new Map<string, Awaited<ReturnType<TokenExchangeDependencies['verifyJwt']>>>([
    ['h.bound.s', { ...claims, cnf: { jkt: 'thumbprint' } }],
    ['h.nogrant.s', claims],
    // another client's token for an audience the caller does not introspect for
    ['h.foreign.s', { ...claims, jti: 'jti-foreign', client_id: 'someone-else', aud: 'https://elsewhere.token-exchange-handler.test' }],
  ]);
  // every look at the token state or the token's client (what takes time)
  const stateLookups: string[] = [];

  beforeAll(async () => {
    const deps: TokenExchangeDependencies = {
      getResourceServerInfo: async () => ({ scope: 'read', audience: API, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      // only the tokens below verify: the handler's own checks are what is tested
      async verifyJwt(token) { looked.push(token); return verified.get(token); },
      // the caller may read every token but another client's for another audience (introspection.ts has the real rule)
      mayIntrospect: (_caller, token) => token.clientId !== 'someone-else',
      honouredByItsClient: async () => { stateLookups.push('client'); return true; },
      tokenState: {
        denylist: { has: async (jti) => { stateLookups.push(`denylist ${jti}`); return false; } },
        issuedJwts: { list: async (grantId) => { stateLookups.push(`issued ${grantId}`); return []; } },
        grants: { ofAccount: async (accountId) => { stateLookups.push(`grants ${accountId}`); return []; } },
      },
      audit: { enqueue: (event) => { audited.push(event); } },
    };
    const client = (c: { clientId: string; clientSecret?: string }, extra: Record<string, unknown>, grantTypes = [TOKEN_EXCHANGE_GRANT_TYPE]) => ({
      client_id: c.clientId, ...(c.clientSecret ? { client_secret: c.clientSecret } : { token_endpoint_auth_method: 'none' as const }),
      grant_types: grantTypes, response_types: [], redirect_uris: [], ...extra,
    });
    const provider = new Provider('http://127.0.0.1', {
      clients: [
        client(WITH_POLICY, { token_exchange_audiences: [API] }),
        client(WITHOUT_POLICY, {}),
        client(PUBLIC, { token_exchange_audiences: [API] }),
        client(NOT_REGISTERED, { token_exchange_audiences: [API] }, ['client_credentials']),
      ],
      extraClientMetadata: { properties: ['token_exchange_audiences', 'token_exchange_impersonation'] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: { enabled: true, defaultResource: async () => undefined, useGrantedResource: async () => true, getResourceServerInfo: deps.getResourceServerInfo as never },
      },
    });
    provider.registerGrantType(tokenExchangeGrant.type, tokenExchangeGrant.buildHandler(deps), tokenExchangeGrant.parameters, tokenExchangeGrant.repeatableParameters);
    tokenExchangeGrant.recordRefusals(provider, deps.audit!);
    provider.use(answerUnauthorizedClient as (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>);
    server = createServer(provider.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => { looked.length = 0; audited.length = 0; stateLookups.length = 0; });

  const SUBJECT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzb21lb25lIn0.c2lnbmF0dXJl';
  const exchange = (params: Record<string, string | string[]>, client: { clientId: string; clientSecret?: string } = WITH_POLICY, headers: Record<string, string> = {}) =>
    tokenRequest(url, { grant_type: TOKEN_EXCHANGE_GRANT_TYPE, subject_token: SUBJECT, subject_token_type: ACCESS_TOKEN_TYPE, resource: API, ...params }, client, headers);

  test('the policy is checked before any token is read: a client without one learns nothing about the token', async () => {
    const answer = await exchange({}, WITHOUT_POLICY);
    expect(answer.body).toEqual({ error: 'invalid_target', error_description: 'the client may not exchange tokens for this audience' });
    expect(looked).toEqual([]);
  });

  test('malformed requests are refused before any token is read', async () => {
    const malformed: Array<[Record<string, string | string[]>, string]> = [
      [{ subject_token: '' }, 'invalid_request'],
      [{ subject_token_type: '' }, 'invalid_request'],
      [{ subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }, 'invalid_request'],
      [{ requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }, 'invalid_request'],
      [{ resource: '' }, 'invalid_target'],
      [{ resource: 'not a uri' }, 'invalid_target'],
      [{ resource: `${API}#fragment` }, 'invalid_target'],
      [{ resource: [API, API] }, 'invalid_target'],
      [{ audience: 'https://other.token-exchange-handler.test' }, 'invalid_target'],
    ];
    for (const [params, error] of malformed) {
      const answer = await exchange(params);
      expect({ params, status: answer.status, error: answer.body.error }).toEqual({ params, status: 400, error });
    }
    expect(looked).toEqual([]);
  });

  test('an actor token needs its type and the subject token must be valid first; neither is echoed', async () => {
    expect((await exchange({ actor_token_type: ACCESS_TOKEN_TYPE })).body.error).toBe('invalid_request');
    const refused = await exchange({ actor_token: SUBJECT, actor_token_type: ACCESS_TOKEN_TYPE });
    expect(refused.body).toEqual({ error: 'invalid_request', error_description: 'subject_token is not valid or may not be exchanged by this client' });
    expect(refused.text).not.toContain(SUBJECT);
  });

  test('a public client, a client not registered for the grant, DPoP: refused', async () => {
    expect((await exchange({}, PUBLIC)).body).toMatchObject({ error: 'unauthorized_client' });
    expect((await exchange({}, NOT_REGISTERED)).body).toMatchObject({ error: 'unauthorized_client' });
    expect((await exchange({}, WITH_POLICY, { dpop: 'a.b.c' })).body).toMatchObject({ error: 'invalid_request' });
    expect(looked).toEqual([]);
  });

  test('a verified JWT bound to a key, or under no live grant of its person (a client_credentials token), is refused', async () => {
    for (const token of ['h.bound.s', 'h.nogrant.s']) {
      const answer = await exchange({ subject_token: token });
      expect(answer.body).toEqual({ error: 'invalid_request', error_description: 'subject_token is not valid or may not be exchanged by this client' });
    }
    expect(looked).toEqual(['h.bound.s', 'h.nogrant.s']);
  });

  // T176: the refusal was the same, but a token the caller may not exchange was
  // looked up first (denylist, its client, its person's grants): how long the
  // answer took told a client holding someone else's token whether its grant lived.
  test('a token the caller may not exchange is refused before any lookup: the same answer, no lookup to time', async () => {
    const foreign = await exchange({ subject_token: 'h.foreign.s' });
    expect(foreign.body).toEqual({ error: 'invalid_request', error_description: 'subject_token is not valid or may not be exchanged by this client' });
    expect(stateLookups).toEqual([]);
    // the admins still see whose token the client tried
    expect(audited[0]).toMatchObject({ type: 'token.exchange_refused', subject: 'person-1', details: { subject_client_id: 'someone-else', error: 'invalid_request' } });
    // a token it may exchange is looked up as before
    await exchange({ subject_token: 'h.nogrant.s' });
    expect(stateLookups).toEqual(['denylist jti-1', 'client', 'grants person-1']);
  });

  test('every refusal is audited with what was asked, never a token', async () => {
    await exchange({ scope: 'read', audience: API, resource: [] });
    await exchange({}, WITHOUT_POLICY);
    expect(audited.map((event) => event.type)).toEqual(['token.exchange_refused', 'token.exchange_refused']);
    expect(audited[0]).toMatchObject({ details: { audience: API, requested_scope: 'read', error: 'invalid_request' } });
    expect(audited[1]).toMatchObject({ details: { audience: API, error: 'invalid_target' } });
    expect(JSON.stringify(audited)).not.toContain(SUBJECT);
  });
});
