// Issue 9, findings 1, 2 and 12: absent means nothing; one scope rule for
// every grant; registrations and discovery hold only what the server supports.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorize, passwordGrant, tokenRequest } from '../support/oauth.ts';
import { adminToken, adminTokenRequest, call } from '../admin/admin-api.ts';
import { decodeJwt } from '../grants/helpers.ts';

const API = 'https://api.scope-rules.test';
const REDIRECT_URI = 'https://app.scope-rules.test/cb';

describe('absent means nothing, one scope rule for every grant', () => {
  let server: TestServer;
  let admin: string;
  const user = { username: 'scoped', password: 'a-long-enough-password' };

  beforeAll(async () => {
    server = await startTestServer();
    await server.services.resources.create({ identifier: API, scopes: ['read', 'write'] });
    await server.createUser(user);
    admin = await adminToken(server);
  });
  afterAll(async () => { await server?.stop(); });

  const clientCredentials = (client: { clientId: string; clientSecret?: string }, params: Record<string, string>) =>
    tokenRequest(server.url, { grant_type: 'client_credentials', ...params }, client);

  describe('finding 1: a client registered without a scope list', () => {
    let job: { client_id: string; client_secret: string };
    beforeAll(async () => {
      // as `tessera clients create --name job --grant-types client_credentials` sends it
      const created = await call(server, admin, 'POST', '/clients', { name: 'job', grant_types: ['client_credentials'] });
      expect(created.status).toBe(201);
      expect(created.body.scopes).toEqual([]);
      job = created.body;
    });

    test('gets no admin token, and so cannot create users', async () => {
      const answer = await clientCredentials({ clientId: job.client_id, clientSecret: job.client_secret }, { resource: `${server.issuer}/admin`, scope: 'admin' });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_target');
      expect(answer.body.access_token).toBeUndefined();
    });

    test("gets no token for an API's audience, with or without scopes", async () => {
      for (const scope of ['read write', '']) {
        const answer = await clientCredentials({ clientId: job.client_id, clientSecret: job.client_secret }, { resource: API, ...(scope ? { scope } : {}) });
        expect(answer.status).toBe(400);
        expect(answer.body.error).toBe('invalid_target');
      }
    });

    test('gets no OpenID Connect scope either', async () => {
      const answer = await clientCredentials({ clientId: job.client_id, clientSecret: job.client_secret }, { scope: 'openid email' });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_scope');
    });
  });

  test('a client allowed `read` gets read, never write or admin (narrowed, not widened)', async () => {
    const reader = await server.createClient({ name: 'reader', grantTypes: ['client_credentials'], scopes: ['read'] });
    const answer = await clientCredentials(reader, { resource: API, scope: 'read write admin' });
    expect(answer.status).toBe(200);
    expect(answer.body.scope).toBe('read');
    expect(decodeJwt(answer.body.access_token!).payload.scope).toBe('read');
    const toAdmin = await clientCredentials(reader, { resource: `${server.issuer}/admin`, scope: 'admin' });
    expect(toAdmin.body.error).toBe('invalid_target');
  });

  test('an API declaring `admin` among its scopes does not lend it to clients allowed `admin` (reserved name)', async () => {
    const refused = await call(server, admin, 'POST', '/resources', { identifier: 'https://shadow.scope-rules.test', scopes: ['admin', 'read'] });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([expect.objectContaining({ field: 'scopes' })]);
    const oidcNamed = await call(server, admin, 'POST', '/resources', { identifier: 'https://shadow.scope-rules.test', scopes: ['email'] });
    expect(oidcNamed.status).toBe(400);
  });

  describe('finding 2: OpenID Connect scopes are enforced at /auth', () => {
    for (const firstParty of [false, true]) {
      test(`a ${firstParty ? 'first' : 'third'}-party client allowed only \`read\` cannot obtain openid, email or offline_access`, async () => {
        const app = await server.createClient({
          name: 'read-only app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scopes: ['read'], firstParty,
        });
        const result = await authorize({
          baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI,
          scope: 'openid email offline_access', params: { prompt: 'consent' }, user,
        });
        expect(result.code).toBeUndefined();
        expect(result.callback.searchParams.get('error')).toBe('invalid_scope');
        expect(result.pages).toEqual([]);
      });
    }

    test('a client allowed `openid profile` cannot add email, and gets what it is allowed', async () => {
      const app = await server.createClient({
        name: 'profile app', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid', 'profile'], firstParty: true,
      });
      const refused = await authorize({ baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI, scope: 'openid email', user });
      expect(refused.callback.searchParams.get('error')).toBe('invalid_scope');

      const allowed = await authorize({ baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI, scope: 'openid profile', user });
      const tokens = await tokenRequest(server.url, {
        grant_type: 'authorization_code', code: allowed.code!, redirect_uri: REDIRECT_URI, code_verifier: allowed.verifier,
      }, app);
      expect(tokens.status).toBe(200);
      expect(tokens.body.scope!.split(' ').sort()).toEqual(['openid', 'profile']);
      expect(tokens.body.refresh_token).toBeUndefined();
    });

    test('the password grant applies the same rule (OIDC scopes outside the list are dropped)', async () => {
      const app = await server.createClient({ name: 'pw app', grantTypes: ['password', 'refresh_token'], scopes: ['openid', 'read'], firstParty: true });
      const answer = await passwordGrant(server.url, app, { ...user, scope: 'openid email offline_access read', resource: API });
      expect(answer.status).toBe(200);
      expect(answer.body.refresh_token).toBeUndefined();
      expect(answer.body.scope).toBe('read');
    });
  });

  describe('finding 12: registrations hold only what the server supports', () => {
    const register = (body: Record<string, unknown>) => call(server, admin, 'POST', '/clients', { name: 'probe', ...body });

    test.each([
      ['the implicit grant', { grant_types: ['implicit'] }, 'grant_types'],
      ['an unknown grant type', { grant_types: ['urn:example:made-up'] }, 'grant_types'],
      ['the password grant for a third-party client', { grant_types: ['password'], scopes: ['openid'] }, 'grant_types'],
      ['a scope nobody offers', { grant_types: ['client_credentials'], scopes: ['read', 'delete-everything'] }, 'scopes'],
      ['introspection for an unknown resource', { grant_types: ['client_credentials'], introspect_for: ['https://nowhere.scope-rules.test'] }, 'introspect_for'],
      ['the code flow without a redirect URI', { grant_types: ['authorization_code'], scopes: ['openid'] }, 'redirect_uris'],
      ['client_credentials for a public client', { grant_types: ['client_credentials'], scopes: ['read'], public: true }, 'grant_types'],
    ])('refuses %s, naming the field', async (_what, body, field) => {
      const answer = await register(body);
      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(answer.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    test('accepts what it supports', async () => {
      const answer = await register({ grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], scopes: ['openid', 'offline_access', 'read'], introspect_for: [API] });
      expect(answer.status).toBe(201);
      expect(answer.body.scopes).toEqual(['openid', 'offline_access', 'read']);
    });

    test('an explicit `admin` grant is allowed to an admin, and stands out in the audit log', async () => {
      const answer = await register({ grant_types: ['client_credentials'], scopes: ['admin'] });
      expect(answer.status).toBe(201);
      const events = await server.services.audit.list({ type: 'client.created', subjects: [answer.body.client_id], limit: 5, offset: 0 });
      expect(JSON.stringify(events)).toContain('grants_admin');
      const token = await adminTokenRequest(server, { clientId: answer.body.client_id, clientSecret: answer.body.client_secret }, 'admin');
      expect(token.body.scope).toBe('admin');
    });

    test('a public client stored with client_credentials (before registrations refused it) gets no token from its client_id alone', async () => {
      const stored = await server.createClient({ name: 'public job', grantTypes: ['client_credentials'], scopes: ['admin', 'read'], public: true });
      for (const params of [{ resource: `${server.issuer}/admin`, scope: 'admin' }, { resource: API, scope: 'read' }]) {
        const answer = await clientCredentials(stored, params);
        expect(answer.status).toBe(400);
        expect(answer.body.access_token).toBeUndefined();
        // the provider's answer to a grant type the client may not use
        expect(answer.body.error_description).toMatch(/grant type is not allowed/);
      }
    });

    test('discovery advertises the code flow only', async () => {
      const discovery = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json() as Record<string, string[]>;
      expect(discovery.response_types_supported).toEqual(['code']);
      expect(discovery.grant_types_supported).not.toContain('implicit');
      expect(discovery.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials', 'password']));
    });
  });
});
