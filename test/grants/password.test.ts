import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { decodeJwt, GENEROUS_LOCKOUT } from './helpers.ts';
import { basicAuth, type ClientCredentials, passwordGrant, tokenRequest } from '../support/oauth.ts';

const API = 'https://api.example.test';
const OPAQUE_API = 'https://opaque.example.test';
const PASSWORD = 'correct horse battery staple';

describe('grant_type=password', () => {
  let server: TestServer;
  let app: ClientCredentials;
  let appWithoutRefresh: ClientCredentials;
  let publicApp: ClientCredentials;
  let thirdParty: ClientCredentials;
  let firstPartyWithoutPassword: ClientCredentials;
  let alice: { id: string };

  beforeAll(async () => {
    server = await startTestServer({ config: { lockout: GENEROUS_LOCKOUT } });
    await server.services.resources.create({ identifier: API, scopes: ['read', 'write'] });
    await server.services.resources.create({ identifier: OPAQUE_API, scopes: ['read'], tokenFormat: 'opaque' });
    app = await server.createClient({
      name: 'first-party app', firstParty: true, grantTypes: ['password', 'refresh_token'],
      scopes: ['openid', 'profile', 'offline_access', 'read'],
    });
    appWithoutRefresh = await server.createClient({
      name: 'no refresh', firstParty: true, grantTypes: ['password'], scopes: ['openid', 'offline_access', 'read'],
    });
    publicApp = await server.createClient({
      name: 'mobile app', firstParty: true, public: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid', 'offline_access'],
    });
    thirdParty = await server.createClient({ name: 'third party', grantTypes: ['password'], scopes: ['openid'] });
    firstPartyWithoutPassword = await server.createClient({ name: 'service', firstParty: true, grantTypes: ['client_credentials'], scopes: ['read'] });
    alice = await server.createUser({ username: 'alice', password: PASSWORD, email: 'alice@example.test' });
  });
  afterAll(async () => { await server?.stop(); });

  test('returns an access token for the resource server, a refresh token and an ID token that verifies against /jwks', async () => {
    const res = await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD, scope: 'openid profile offline_access read write', resource: API });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    const { body } = res;
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'read', expires_in: expect.any(Number) });
    expect(typeof body.refresh_token).toBe('string');

    // an RFC 9068 JWT for the API: `write` is not on the client's allow-list
    const at = decodeJwt(body.access_token!);
    expect(at.header).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(at.payload).toMatchObject({ sub: alice.id, aud: API, scope: 'read', client_id: app.clientId, iss: server.issuer });
    expect(typeof at.payload.jti).toBe('string');

    const discovery = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json() as { jwks_uri: string };
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
    const { payload, protectedHeader } = await jwtVerify(body.id_token!, jwks, { issuer: server.issuer, audience: app.clientId });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.sub).toBe(alice.id);
    expect(payload.amr).toEqual(['pwd']);
    expect(typeof payload.auth_time).toBe('number');
    expect(Math.abs((payload.auth_time as number) - Date.now() / 1000)).toBeLessThan(60);
    // the access token is not usable at userinfo, so the ID token carries the profile claims
    expect(payload.preferred_username).toBe('alice');
  });

  test('the tokens hang off a saved grant: its JWTs are recorded, and revoking it revokes them all', async () => {
    const res = await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD, scope: 'openid offline_access read', resource: API });
    expect(res.status).toBe(200);
    const { jti } = decodeJwt(res.body.access_token!).payload as { jti: string };

    const grantIds = await server.tokenState.grants.ofAccount(alice.id);
    const grantId = (await Promise.all(grantIds.map(async (id) => ({ id, jwts: await server.tokenState.issuedJwts.list(id) }))))
      .find((g) => g.jwts.some((entry) => entry.jti === jti))?.id;
    expect(grantId).toBeDefined();
    const grant = await server.provider.Grant.find(grantId!);
    expect(grant).toMatchObject({ accountId: alice.id, clientId: app.clientId });
    expect(grant!.getOIDCScope().split(' ').sort()).toEqual(['offline_access', 'openid']);
    expect(grant!.resources).toEqual({ [API]: 'read' });

    await server.revocation.revokeGrant(grantId!);

    const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: res.body.refresh_token! }, app);
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
    const introspection = await fetch(`${server.url}/token/introspection`, {
      method: 'POST',
      headers: { authorization: basicAuth(app), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: res.body.access_token! }),
    });
    expect(await introspection.json()).toEqual({ active: false });
  });

  test('the refresh token works, rotates, and keeps the resource and the ID token', async () => {
    const first = await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD, scope: 'openid offline_access read', resource: API });
    expect(first.status).toBe(200);
    const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token! }, app);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toBeDefined();
    expect(refreshed.body.refresh_token).not.toBe(first.body.refresh_token);
    const at = decodeJwt(refreshed.body.access_token!).payload;
    expect(at).toMatchObject({ sub: alice.id, aud: API, scope: 'read' });
    const idToken = decodeJwt(refreshed.body.id_token!).payload;
    expect(idToken).toMatchObject({ sub: alice.id, auth_time: decodeJwt(first.body.id_token!).payload.auth_time });

    // the rotated-out refresh token is spent
    const reused = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token! }, app);
    expect(reused.body.error).toBe('invalid_grant');
  });

  test('without a resource the access token is opaque and good for userinfo only; the ID token has no profile claims', async () => {
    const res = await passwordGrant(server.url, app, { username: 'ALICE', password: PASSWORD, scope: 'openid profile' });
    expect(res.status).toBe(200);
    expect(res.body.access_token!.split('.')).toHaveLength(1);
    expect(res.body.scope).toBe('openid profile');
    expect(res.body.refresh_token).toBeUndefined(); // no offline_access asked for

    const idToken = decodeJwt(res.body.id_token!).payload;
    expect(idToken.sub).toBe(alice.id);
    expect(idToken.preferred_username).toBeUndefined();

    const userinfo = await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${res.body.access_token}` } });
    expect(userinfo.status).toBe(200);
    expect(await userinfo.json()).toMatchObject({ sub: alice.id, preferred_username: 'alice' });
  });

  test('a resource server with opaque tokens gets an opaque token', async () => {
    const res = await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD, scope: 'read', resource: OPAQUE_API });
    expect(res.status).toBe(200);
    expect(res.body.access_token!.split('.')).toHaveLength(1);
    expect(res.body.scope).toBe('read');
    expect(res.body.id_token).toBeUndefined();
    expect(res.body.refresh_token).toBeUndefined();
  });

  test('the client allow-list bounds the scope; no refresh token for a client that may not refresh', async () => {
    const res = await passwordGrant(server.url, appWithoutRefresh, { username: 'alice', password: PASSWORD, scope: 'openid profile email offline_access' });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('openid offline_access');
    expect(res.body.refresh_token).toBeUndefined();
    expect(res.body.id_token).toBeDefined();
  });

  test('a public first-party client can use it', async () => {
    const res = await passwordGrant(server.url, publicApp, { username: 'alice', password: PASSWORD, scope: 'openid offline_access' });
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).toBeDefined();
    const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: res.body.refresh_token! }, publicApp);
    expect(refreshed.status).toBe(200);
  });

  test('a client that is not first-party gets unauthorized_client, even with the right password', async () => {
    const res = await passwordGrant(server.url, thirdParty, { username: 'alice', password: PASSWORD, scope: 'openid' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
    expect(res.body.access_token).toBeUndefined();
  });

  test('a first-party client without the password grant type gets unauthorized_client', async () => {
    const res = await passwordGrant(server.url, firstPartyWithoutPassword, { username: 'alice', password: PASSWORD });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
  });

  test('a wrong client secret is invalid_client, before any password is looked at', async () => {
    const res = await passwordGrant(server.url, { clientId: app.clientId, clientSecret: 'wrong' }, { username: 'alice', password: PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  test('missing credentials are invalid_request; a bad or unknown resource is invalid_target', async () => {
    expect((await tokenRequest(server.url, { grant_type: 'password', username: 'alice' }, app)).body.error).toBe('invalid_request');
    expect((await tokenRequest(server.url, { grant_type: 'password', password: PASSWORD }, app)).body.error).toBe('invalid_request');
    expect((await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD, resource: 'https://unknown.example.test' })).body.error).toBe('invalid_target');
    expect((await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD, resource: 'not a uri' })).body.error).toBe('invalid_target');
    expect((await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD, resource: `${API}#frag` })).body.error).toBe('invalid_target');
    expect((await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD, resource: [API, OPAQUE_API] })).body.error).toBe('invalid_target');
  });

  test('a DPoP proof is refused rather than silently ignored', async () => {
    const res = await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD }, { DPoP: 'e30.e30.sig' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  test('a disabled user, a user without a password and an overlong password get the generic invalid_grant', async () => {
    const bob = await server.createUser({ username: 'bob', password: PASSWORD });
    await server.services.accounts.setDisabled(bob.id, true);
    await server.services.accounts.create({ username: 'nopassword', passwordHash: null });
    const generic = { error: 'invalid_grant', error_description: 'grant request is invalid' };
    for (const attempt of [
      { username: 'bob', password: PASSWORD },
      { username: 'nopassword', password: PASSWORD },
      { username: 'alice', password: 'x'.repeat(2000) },
    ]) {
      const res = await passwordGrant(server.url, app, attempt);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(generic);
    }
  });
});
