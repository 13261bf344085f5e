// Issue 2, "done means" 3: an unmodified client library from npm
// (openid-client v6) works against Tessera: discovery, authorization code +
// PKCE through the real login and consent pages, ID token verified against
// /jwks, userinfo, refresh with rotation and reuse detection, and
// client_credentials giving an RFC 9068 JWT access token.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { BrowserAgent } from '../support/browser-agent.ts';
import { driveAuthorization } from '../support/oauth.ts';

const REDIRECT_URI = 'https://notes.example.test/callback';
const API = 'https://api.example.test';
// openid-client refuses http:// issuers unless told; the server is on loopback
const insecureOnLoopback = { execute: [oidc.allowInsecureRequests] };

describe('openid-client v6 against Tessera', () => {
  let server: TestServer;
  let user: { id: string };
  let web: { clientId: string; clientSecret?: string };
  let service: { clientId: string; clientSecret?: string };
  let config: oidc.Configuration;

  beforeAll(async () => {
    server = await startTestServer();
    user = await server.createUser({ username: 'lin', password: 'lin-password-123', email: 'lin@example.test' });
    web = await server.createClient({
      name: 'Notes',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [REDIRECT_URI],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
    });
    await server.services.resources.create({ identifier: API, name: 'Reports API', scopes: ['reports:read', 'reports:write'] });
    service = await server.createClient({ name: 'Reporting job', grantTypes: ['client_credentials'], scopes: ['reports:read'] });
  });
  afterAll(async () => { await server?.stop(); });

  test('discovery', async () => {
    config = await oidc.discovery(new URL(server.issuer), web.clientId, { redirect_uris: [REDIRECT_URI] }, oidc.ClientSecretBasic(web.clientSecret), insecureOnLoopback);
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(server.issuer);
    expect(metadata.code_challenge_methods_supported).toContain('S256');
    expect(metadata.supportsPKCE()).toBe(true);
  });

  let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;

  test('authorization code + PKCE through the login and consent pages; the ID token verifies against /jwks', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const authorizationUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile email offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      prompt: 'consent',
    });

    const { pages, callback, html } = await driveAuthorization(new BrowserAgent(), authorizationUrl.href, {
      redirectUri: REDIRECT_URI,
      user: { username: 'lin', password: 'lin-password-123' },
    });
    expect(pages).toEqual(['login', 'consent']);
    expect(html[1]).toContain('Notes');

    tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(user.id);
    expect(claims.nonce).toBe(nonce);

    // independently of openid-client: the signature checks out against the published keys
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, jwks, { issuer: server.issuer, audience: web.clientId });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.sub).toBe(user.id);
  });

  test('userinfo', async () => {
    const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(info.sub).toBe(user.id);
    expect(info.email).toBe('lin@example.test');
    expect(info.preferred_username).toBe('lin');
  });

  test('refresh rotates; reusing the old refresh token fails with invalid_grant and kills its successor', async () => {
    const old = tokens.refresh_token!;
    const rotated = await oidc.refreshTokenGrant(config, old);
    expect(rotated.refresh_token).toEqual(expect.any(String));
    expect(rotated.refresh_token).not.toBe(old);
    expect(rotated.access_token).not.toBe(tokens.access_token);
    expect((await oidc.fetchUserInfo(config, rotated.access_token, oidc.skipSubjectCheck)).sub).toBe(user.id);

    await expect(oidc.refreshTokenGrant(config, old)).rejects.toMatchObject({ error: 'invalid_grant' });
    // the reuse revoked the grant: the successor and its access token are dead too
    await expect(oidc.refreshTokenGrant(config, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.fetchUserInfo(config, rotated.access_token, oidc.skipSubjectCheck)).rejects.toMatchObject({ status: 401 });
  });

  test('client_credentials for a confidential client gives an ES256 at+jwt that jose verifies against /jwks', async () => {
    const serviceConfig = await oidc.discovery(new URL(server.issuer), service.clientId, undefined, oidc.ClientSecretBasic(service.clientSecret), insecureOnLoopback);
    const result = await oidc.clientCredentialsGrant(serviceConfig, { resource: API, scope: 'reports:read reports:write' });
    expect(result.scope).toBe('reports:read'); // the client's allow-list bounds the scope

    expect(decodeProtectedHeader(result.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const jwks = createRemoteJWKSet(new URL(serviceConfig.serverMetadata().jwks_uri!));
    const { payload } = await jwtVerify(result.access_token, jwks, {
      issuer: server.issuer, audience: API, typ: 'at+jwt', algorithms: ['ES256'],
    });
    expect(payload).toMatchObject({ client_id: service.clientId, scope: 'reports:read', aud: API, sub: service.clientId });
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
  });
});
