// The /token (and /auth) scope matrix: every kind of client × every grant type
// × requests for more than the client may have (extra resource scopes, `admin`,
// OpenID Connect scopes it was not granted, an unknown resource, the admin
// resource). Each answer is a refusal or a narrowing, never a widening:
// issued scopes ⊆ the client's allow-list ∩ what the audience offers (OpenID
// Connect scopes for the ID token and userinfo side); `admin` only for the
// admin client by client_credentials; a refresh token only with offline_access
// allowed; ID token and userinfo claims only for allowed scopes.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { decodeJwt } from 'jose';
import { readAdminCredentials } from '../../src/admin/index.ts';
import type { NewClient } from '../../src/clients/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorize, postAsClient, tokenRequest, type TokenResponse } from '../support/oauth.ts';
import { BrowserAgent, formWithButton, headingOf } from '../support/browser-agent.ts';
import { issuedScopeViolations, refusalOf, type Outcome } from './issued-scopes.ts';

const API = 'https://scope-matrix-api.example.test';
const API_SCOPES = ['read', 'write', 'delete'];
const UNKNOWN_API = 'https://scope-matrix-unknown.example.test';
const REDIRECT_URI = 'https://scope-matrix-app.example.test/cb';
const USER = { username: 'scope-matrix-user', password: 'scope-matrix-password', email: 'matrix@example.test', roles: ['staff'] };

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const GRANTS = ['client_credentials', 'password', 'authorization_code', 'refresh_token', 'token_exchange', DEVICE_GRANT] as const;
const TOKEN_EXCHANGE = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' };
type Grant = typeof GRANTS[number];

interface Kind {
  name: string;
  /** how it is registered; undefined: the bootstrap admin client */
  registration?: Omit<NewClient, 'name'>;
}

const KINDS: Kind[] = [
  { name: 'confidential third-party with a scope list', registration: {
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], redirectUris: [REDIRECT_URI],
    scopes: ['openid', 'profile', 'offline_access', 'read'] } },
  { name: 'confidential third-party with resource scopes only', registration: {
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], redirectUris: [REDIRECT_URI], scopes: ['read'] } },
  { name: 'confidential third-party without a scope list', registration: {
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], redirectUris: [REDIRECT_URI] } },
  { name: 'public client (PKCE)', registration: {
    grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], public: true,
    scopes: ['openid', 'offline_access', 'read'] } },
  { name: 'first-party', registration: {
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', 'password'], redirectUris: [REDIRECT_URI], firstParty: true,
    scopes: ['openid', 'profile', 'offline_access', 'read'] } },
  { name: 'first-party with resource scopes only', registration: {
    grantTypes: ['authorization_code', 'refresh_token', 'password'], redirectUris: [REDIRECT_URI], firstParty: true, scopes: ['read'] } },
  { name: 'first-party without a scope list', registration: {
    grantTypes: ['authorization_code', 'refresh_token', 'password'], redirectUris: [REDIRECT_URI], firstParty: true } },
  { name: 'admin client' },
  // no secret to prove: client_credentials would hand its scopes (admin even) to anyone who knows its id
  { name: 'public client registered for client_credentials', registration: {
    grantTypes: ['client_credentials'], public: true, scopes: ['openid', 'read', 'admin'] } },
  { name: 'client with introspect_for', registration: {
    grantTypes: ['client_credentials'], scopes: ['read'], introspectFor: [API] } },
  // exchanges the person's token it receives as the API for one aimed at the API again (its policy)
  { name: 'token exchanger', registration: {
    grantTypes: [TOKEN_EXCHANGE.grant_type], scopes: ['read'], introspectFor: [API], tokenExchangeAudiences: [API] } },
  { name: 'device client (confidential third-party)', registration: {
    grantTypes: [DEVICE_GRANT, 'refresh_token'], scopes: ['openid', 'profile', 'offline_access', 'read'] } },
  { name: 'device client (public, first-party)', registration: {
    grantTypes: [DEVICE_GRANT], public: true, firstParty: true, scopes: ['openid', 'read'] } },
];

interface Request { name: string; scope: string; resource?: 'api' | 'admin' | 'unknown' }

// each asks for more than any of the clients above may have
const REQUESTS: Request[] = [
  { name: 'extra resource scopes', scope: 'read write delete', resource: 'api' },
  { name: 'admin at a resource server', scope: 'read admin', resource: 'api' },
  { name: 'admin at the admin resource', scope: 'admin', resource: 'admin' },
  { name: 'OIDC scopes not granted', scope: 'openid email offline_access' },
  { name: 'an unknown resource', scope: 'read', resource: 'unknown' },
  { name: 'everything at once', scope: 'openid profile email roles offline_access read write delete admin', resource: 'api' },
];

interface Client { clientId: string; clientSecret?: string }

describe('/token and /auth scope matrix: refused or narrowed, never widened', () => {
  let server: TestServer;
  let cells = 0;
  const clients = new Map<string, Client>();
  const allowLists = new Map<string, string[]>();
  const refusedRegistrations = new Map<string, string>();
  /** the person's token for the API (read, from the password grant): what every token-exchange cell presents */
  let subjectToken = '';
  const resourceOf = (request: Request) => ({ api: API, admin: `${server.issuer}/admin`, unknown: UNKNOWN_API, none: undefined })[request.resource ?? 'none'];

  beforeAll(async () => {
    // the device flow's polls wait out the interval: a short one
    server = await startTestServer({ config: { deviceFlow: { pollIntervalSeconds: 1 } } });
    await server.createUser(USER);
    // resource scopes exist before a client may be allowed them
    await server.services.resources.create({ identifier: API, scopes: API_SCOPES, tokenFormat: 'jwt' });
    for (const kind of KINDS) {
      if (!kind.registration) {
        const admin = readAdminCredentials(server.config.keysDir, {})!;
        clients.set(kind.name, { clientId: admin.client_id, clientSecret: admin.client_secret });
        allowLists.set(kind.name, ['admin']);
        continue;
      }
      // absent means nothing
      allowLists.set(kind.name, kind.registration.scopes ?? []);
      try {
        clients.set(kind.name, await server.createClient({ name: kind.name, ...kind.registration }));
      } catch (error) {
        refusedRegistrations.set(kind.name, String(error)); // refusing the registration is refusing every request
      }
    }
    const subject = await tokenRequest(server.url, { grant_type: 'password', username: USER.username, password: USER.password, scope: 'read', resource: API }, clients.get('first-party')!);
    subjectToken = subject.body.access_token!;
  });

  afterAll(async () => {
    console.log(`token scope matrix: ${KINDS.length} client kinds × ${GRANTS.length} grant types × ${REQUESTS.length} requests (+ refresh baselines) = ${cells} cells`);
    await server?.stop();
  });

  const grantsOf = (kind: Kind): string[] => kind.registration?.grantTypes ?? ['client_credentials'];

  /** The tokens of one code flow (fresh browser unless given), or where it was refused. */
  async function codeFlow(kind: Kind, scope: string, resource: string | undefined, agent = new BrowserAgent()): Promise<Outcome> {
    const client = clients.get(kind.name)!;
    if (!grantsOf(kind).includes('authorization_code')) {
      // no redirect URI to come back to: /auth must answer with an error page, never a code
      const url = new URL('/auth', server.url);
      for (const [k, v] of Object.entries({ client_id: client.clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })) url.searchParams.set(k, v);
      const res = await fetch(url, { redirect: 'manual' });
      const location = res.headers.get('location') ?? '';
      if (res.status >= 500 || new URL(location || '/', server.url).searchParams.has('code')) return { refused: `VIOLATION /auth answered ${res.status} ${location}` };
      const bogus = await tokenRequest(server.url, { grant_type: 'authorization_code', code: 'bogus-code', redirect_uri: REDIRECT_URI, code_verifier: 'v'.repeat(43) }, client);
      return bogus.status === 200 ? { tokens: bogus.body } : refusalOf('/token', bogus.status, bogus.body);
    }
    const result = await authorize({
      baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope, user: USER, agent,
      // offline_access is only kept with prompt=consent
      params: { prompt: 'consent', ...(resource ? { resource } : {}) },
    });
    if (!result.code) return { refused: `/auth ${result.callback.searchParams.get('error')}` };
    const exchanged = await tokenRequest(server.url, {
      grant_type: 'authorization_code', code: result.code, redirect_uri: REDIRECT_URI, code_verifier: result.verifier,
      ...(resource ? { resource } : {}),
    }, client);
    return exchanged.status === 200 ? { tokens: exchanged.body } : refusalOf('/token', exchanged.status, exchanged.body);
  }

  /** The tokens of one device flow (RFC 8628): the person confirms, signs in and allows; the device polls once at its pace. */
  async function deviceFlow(kind: Kind, scope: string, resource: string | undefined): Promise<Outcome> {
    const client = clients.get(kind.name)!;
    const started = await postAsClient(`${server.url}/device/auth`, { scope, ...(resource ? { resource } : {}) }, client);
    const body = JSON.parse(started.text) as { user_code?: string; device_code?: string; error?: string };
    if (started.status !== 200) return refusalOf('/device/auth', started.status, body);
    const agent = new BrowserAgent();
    const entry = await agent.request(`${server.url}/device`);
    let page = (await agent.submit(entry, formWithButton(entry.text, 'Continue'), { user_code: body.user_code! })).response;
    const buttons: Record<string, [string, Record<string, string>?]> = {
      'Connect this device?': ['Continue'], 'Sign in': ['Sign in', { username: USER.username, password: USER.password }], 'Allow access?': ['Allow'],
    };
    for (let step = 0; step < 4 && buttons[headingOf(page.text) ?? '']; step += 1) {
      const [button, values] = buttons[headingOf(page.text)!];
      page = (await agent.submit(page, formWithButton(page.text, button), values)).response;
    }
    await new Promise((resolve) => setTimeout(resolve, server.config.deviceFlow.pollIntervalSeconds * 1000 + 100));
    return tokenCell(client, { grant_type: DEVICE_GRANT, device_code: body.device_code! });
  }

  async function tokenCell(client: Client, params: Record<string, string>): Promise<Outcome> {
    const res = await tokenRequest(server.url, params, client);
    return res.status === 200 ? { tokens: res.body } : refusalOf('/token', res.status, res.body);
  }

  const violations = (kind: Kind, grant: Grant, requested: string, outcome: Outcome) => issuedScopeViolations(outcome, {
    baseUrl: server.url,
    adminResource: `${server.issuer}/admin`,
    resourceScopes: new Map([[API, API_SCOPES]]),
    allowList: allowLists.get(kind.name)!,
    grant,
    requested,
    publicClient: kind.registration?.public === true,
  });

  const cases = KINDS.flatMap((kind) => GRANTS.map((grant) => [kind.name, grant] as [string, Grant]));

  test.each(cases)('%s × %s', async (kindName, grant) => {
    const kind = KINDS.find((k) => k.name === kindName)!;
    if (refusedRegistrations.has(kind.name)) {
      cells += REQUESTS.length;
      return;
    }
    const client = clients.get(kind.name)!;
    const report: string[] = [];
    const record = async (label: string, requested: string, outcome: Outcome) => {
      cells++;
      for (const problem of await violations(kind, grant, requested, outcome)) report.push(`${label}: ${problem}`);
    };

    for (const request of REQUESTS) {
      const resource = resourceOf(request);
      const params = { scope: request.scope, ...(resource ? { resource } : {}) };
      if (grant === 'client_credentials') {
        await record(request.name, request.scope, await tokenCell(client, { grant_type: 'client_credentials', ...params }));
      } else if (grant === 'password') {
        await record(request.name, request.scope, await tokenCell(client, { grant_type: 'password', username: USER.username, password: USER.password, ...params }));
      } else if (grant === 'token_exchange') {
        await record(request.name, request.scope, await tokenCell(client, { ...TOKEN_EXCHANGE, subject_token: subjectToken, ...params }));
      } else if (grant === 'authorization_code') {
        await record(request.name, request.scope, await codeFlow(kind, request.scope, resource));
      } else if (grant === DEVICE_GRANT) {
        await record(request.name, request.scope, await deviceFlow(kind, request.scope, resource));
      } else {
        // a refresh token from an ordinary sign-in (itself checked), then the refresh asks for more
        const baselineScope = 'openid profile offline_access read';
        const baseline = await codeFlow(kind, baselineScope, API);
        await record(`${request.name} (sign-in before the refresh)`, baselineScope, baseline);
        const refreshToken = 'tokens' in baseline && baseline.tokens.refresh_token ? baseline.tokens.refresh_token : 'bogus-refresh-token';
        await record(request.name, request.scope, await tokenCell(client, { grant_type: 'refresh_token', refresh_token: refreshToken, ...params }));
      }
    }
    expect(report).toEqual([]);
  });

  test('the admin client gets admin by client_credentials (the only widening-looking grant is the explicit one)', async () => {
    const admin = clients.get('admin client')!;
    const res = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: `${server.issuer}/admin`, scope: 'admin' }, admin);
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token!)).toMatchObject({ scope: 'admin', aud: `${server.issuer}/admin` });
  });

  test('within its allow-list a device client gets what it asks for by the device flow', async () => {
    const outcome = await deviceFlow(KINDS.find((k) => k.name === 'device client (confidential third-party)')!, 'openid profile offline_access read', API);
    expect(outcome).toHaveProperty('tokens');
    const tokens = (outcome as { tokens: TokenResponse['body'] }).tokens;
    expect(decodeJwt(tokens.access_token!)).toMatchObject({ aud: API, scope: 'read' });
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  test('within its allow-list a client still gets what it asks for (narrowing is not refusing everything)', async () => {
    const kind = KINDS.find((k) => k.name === 'first-party')!;
    const outcome = await codeFlow(kind, 'openid profile offline_access read', API);
    expect(outcome).toHaveProperty('tokens');
    const tokens = (outcome as { tokens: TokenResponse['body'] }).tokens;
    expect(decodeJwt(tokens.access_token!)).toMatchObject({ aud: API, scope: 'read' });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(decodeJwt(tokens.id_token!)).toHaveProperty('sub');
    const client = clients.get(kind.name)!;
    const password = await tokenRequest(server.url, { grant_type: 'password', username: USER.username, password: USER.password, scope: 'read', resource: API }, client);
    expect(decodeJwt(password.body.access_token!)).toMatchObject({ aud: API, scope: 'read' });
    const machine = await tokenRequest(server.url, { grant_type: 'client_credentials', scope: 'read', resource: API }, clients.get('client with introspect_for')!);
    expect(decodeJwt(machine.body.access_token!)).toMatchObject({ aud: API, scope: 'read' });
    const exchanged = await tokenRequest(server.url, { ...TOKEN_EXCHANGE, subject_token: password.body.access_token!, resource: API, scope: 'read' }, clients.get('token exchanger')!);
    expect(decodeJwt(exchanged.body.access_token!)).toMatchObject({ aud: API, scope: 'read' });
  });
});
