/*
 * Revocation (RFC 7009) and introspection (RFC 7662) of every token type,
 * JWT access tokens included, through a real server: on SQL token state and
 * on Redis.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { SignJWT, generateKeyPair, importJWK, type JWK } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { redisUp } from '../support/services.ts';
import type { ClientCredentials } from '../support/oauth.ts';
import {
  clientCredentials, codeFlow, introspect, isJwt, refresh, revoke, tokenEndpoint, REDIRECT_URI,
  type Tokens,
} from './token-flows.ts';

const API = 'https://api.example.test';
const OPAQUE_API = 'https://opaque.example.test';
const USER = { username: 'jwt-alice', password: 'correct horse battery staple' };

const backends: Array<[string, { redis?: boolean }]> = [['SQL token state', {}]];
if (await redisUp()) backends.push(['Redis token state', { redis: true }]);
else console.warn('SKIPPED the Redis variant of jwt-access-tokens.test.ts: Redis is not reachable');

describe.each(backends)('JWT and opaque tokens at /token/introspection and /token/revocation (%s)', (_name, options) => {
  let server: TestServer;
  let svc: ClientCredentials;        // client_credentials, owns the tokens
  let other: ClientCredentials;      // another confidential client
  let introspector: ClientCredentials; // introspector for API and OPAQUE_API
  let publicClient: ClientCredentials;
  let app: ClientCredentials;        // authorization code + refresh, third party
  let url: string;

  beforeAll(async () => {
    server = await startTestServer({ ...options, ...(process.env.TEST_LOG ? { logDestination: process.stderr, logLevel: process.env.TEST_LOG } : {}) });
    url = server.url;
    await server.services.resources.create({ identifier: API, scopes: ['read', 'write'] });
    await server.services.resources.create({ identifier: OPAQUE_API, scopes: ['read'], tokenFormat: 'opaque' });
    svc = await server.createClient({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read', 'write'] });
    other = await server.createClient({ name: 'other', grantTypes: ['client_credentials'], scopes: ['read'] });
    introspector = await server.createClient({ name: 'rs', grantTypes: ['client_credentials'], introspectFor: [API, OPAQUE_API] });
    publicClient = await server.createClient({
      name: 'spa', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], public: true, scopes: ['openid', 'read'],
    });
    app = await server.createClient({
      name: 'app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI],
      scopes: ['openid', 'offline_access', 'read'],
    });
    await server.createUser(USER);
  });
  afterAll(async () => { await server?.stop(); });

  /** Our own ES256 key, to mint tokens the server must still refuse (expired, wrong typ). */
  async function ownSigningKey() {
    const { keys } = JSON.parse(readFileSync(join(server.dir, 'keys', 'signing-keys.json'), 'utf8')) as { keys: JWK[] };
    const jwk = keys.find((k) => k.alg === 'ES256')!;
    return { key: await importJWK(jwk, 'ES256'), kid: jwk.kid! };
  }

  test('a JWT access token introspects active for its client and for the audience\'s introspector, with its claims', async () => {
    const token = await clientCredentials(url, svc, API, 'read write');
    expect(isJwt(token)).toBe(true);
    for (const caller of [svc, introspector]) {
      const answer = await introspect(url, caller, token);
      expect(answer).toMatchObject({
        active: true, client_id: svc.clientId, sub: svc.clientId, aud: API, scope: 'read write',
        token_type: 'Bearer', iss: server.issuer, jti: expect.any(String), exp: expect.any(Number), iat: expect.any(Number),
      });
    }
    // client_secret_post as well as client_secret_basic
    const post = await tokenEndpoint(url, 'introspection', svc, { token }, { post: true });
    expect(post.json).toMatchObject({ active: true });
    // and with a misleading hint
    expect(await introspect(url, svc, token, 'refresh_token')).toMatchObject({ active: true });
  });

  test('any other caller learns nothing; public clients and bad secrets are refused', async () => {
    const token = await clientCredentials(url, svc, API, 'read');
    expect(await introspect(url, other, token)).toEqual({ active: false });

    const asPublic = await tokenEndpoint(url, 'introspection', publicClient, { token });
    expect(asPublic.status).toBe(401);
    expect(asPublic.json).toMatchObject({ error: 'invalid_client' });

    const badSecret = await tokenEndpoint(url, 'introspection', { clientId: svc.clientId, clientSecret: 'wrong' }, { token });
    expect(badSecret.status).toBe(401);
    expect(badSecret.json).toMatchObject({ error: 'invalid_client' });
    const unknown = await tokenEndpoint(url, 'introspection', { clientId: 'nobody', clientSecret: 'x' }, { token });
    expect(unknown.status).toBe(401);
    const noAuth = await fetch(`${url}/token/introspection`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }),
    });
    expect(noAuth.status).toBe(400);
  });

  test('tampered, foreign, expired and non-access-token JWTs are inactive', async () => {
    const token = await clientCredentials(url, svc, API, 'read');
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());

    const tampered = [header, Buffer.from(JSON.stringify({ ...claims, scope: 'read write admin' })).toString('base64url'), signature].join('.');
    expect(await introspect(url, svc, tampered)).toEqual({ active: false });

    const foreignKey = (await generateKeyPair('ES256')).privateKey;
    const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(foreignKey);
    expect(await introspect(url, svc, foreign)).toEqual({ active: false });

    const { key, kid } = await ownSigningKey();
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ...claims, iat: now - 120, exp: now - 60 }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(key);
    expect(await introspect(url, svc, expired)).toEqual({ active: false });
    const notAnAccessToken = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid }).sign(key);
    expect(await introspect(url, svc, notAnAccessToken)).toEqual({ active: false });
    const otherIssuer = await new SignJWT({ ...claims, iss: 'https://evil.example' }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(key);
    expect(await introspect(url, svc, otherIssuer)).toEqual({ active: false });
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
    expect(await introspect(url, svc, unsigned)).toEqual({ active: false });
    // our own key, right claims, but minted for another client: still not the caller's
    const forged = await new SignJWT({ ...claims, client_id: other.clientId }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(key);
    expect(await introspect(url, svc, forged)).toEqual({ active: false });
  });

  test('revocation: only the token\'s own client revokes it; it is inactive at once; garbage gets 200', async () => {
    const token = await clientCredentials(url, svc, API, 'read');

    const byOther = await revoke(url, other, token);
    expect(byOther.status).toBe(400);
    expect(byOther.json).toMatchObject({ error: 'invalid_request' });
    expect(await introspect(url, svc, token)).toMatchObject({ active: true });

    const bySelf = await revoke(url, svc, token, 'access_token');
    expect(bySelf.status).toBe(200);
    expect(bySelf.text).toBe('');
    expect(await introspect(url, svc, token)).toEqual({ active: false });
    expect(await introspect(url, introspector, token)).toEqual({ active: false });
    // revoking twice is fine
    expect((await revoke(url, svc, token)).status).toBe(200);

    for (const garbage of ['not-a-token', `${token}x`, 'eyJhbGciOiJFUzI1NiJ9.e30.', 'a.b.c', token.split('.').slice(0, 2).join('.')]) {
      expect((await revoke(url, svc, garbage)).status).toBe(200);
    }
  });

  test('opaque access tokens follow the same caller rule', async () => {
    const token = await clientCredentials(url, svc, OPAQUE_API, 'read');
    expect(isJwt(token)).toBe(false);
    expect(await introspect(url, svc, token)).toMatchObject({ active: true, client_id: svc.clientId, aud: OPAQUE_API });
    expect(await introspect(url, introspector, token)).toMatchObject({ active: true });
    expect(await introspect(url, other, token)).toEqual({ active: false });
    expect((await tokenEndpoint(url, 'introspection', publicClient, { token })).status).toBe(401);

    expect((await revoke(url, svc, token)).status).toBe(200);
    expect(await introspect(url, svc, token)).toEqual({ active: false });
  });

  describe('tokens of a grant (authorization code + refresh)', () => {
    let first: Tokens;

    beforeAll(async () => {
      first = await codeFlow({ baseUrl: url, client: app, user: USER, scope: 'openid offline_access read', resource: API });
    });

    test('the code flow yields a JWT access token, a refresh token and an ID token; all introspect correctly', async () => {
      expect(isJwt(first.access_token)).toBe(true);
      expect(first.refresh_token).toBeDefined();
      expect(await introspect(url, app, first.access_token)).toMatchObject({ active: true, client_id: app.clientId, aud: API });
      expect(await introspect(url, introspector, first.access_token)).toMatchObject({ active: true });
      expect(await introspect(url, app, first.refresh_token!)).toMatchObject({ active: true, client_id: app.clientId });
      // a refresh token is the client's own business, even for the API's introspector
      expect(await introspect(url, introspector, first.refresh_token!)).toEqual({ active: false });
      // an ID token is no access token
      expect(await introspect(url, app, first.id_token!)).toEqual({ active: false });
    });

    test('revoking the grant (admin) leaves none of its opaque, refresh or JWT tokens active', async () => {
      // One browser session, so both authorizations extend one grant: an opaque
      // (userinfo) access token from the first, a JWT for the API from the second.
      const opaque = await codeFlow({ baseUrl: url, client: app, user: USER, scope: 'openid offline_access' });
      const jwtFlow = await codeFlow({ baseUrl: url, client: app, user: USER, scope: 'openid offline_access read', resource: API, agent: opaque.agent });
      const refreshed = await refresh(url, app, jwtFlow.refresh_token!);
      expect(refreshed.status).toBe(200);
      expect(isJwt(opaque.access_token)).toBe(false);
      expect(isJwt(jwtFlow.access_token)).toBe(true);
      const grantOf = async (rt: string) => (await server.tokenState.adapterFactory('RefreshToken').find(rt))?.grantId;
      const grantId = await grantOf(opaque.refresh_token!);
      expect(await grantOf(refreshed.body.refresh_token!)).toBe(grantId);

      const tokens = [opaque.access_token, opaque.refresh_token!, jwtFlow.access_token, refreshed.body.access_token!, refreshed.body.refresh_token!];
      for (const token of tokens) expect(await introspect(url, app, token)).toMatchObject({ active: true });

      await server.revocation.revokeGrant(grantId as string);
      for (const token of tokens) expect(await introspect(url, app, token)).toEqual({ active: false });
      expect((await refresh(url, app, refreshed.body.refresh_token!)).body).toMatchObject({ error: 'invalid_grant' });
    });

    test('reuse of a rotated refresh token revokes the grant: none of its opaque, refresh or JWT tokens stay active', async () => {
      const opaque = await codeFlow({ baseUrl: url, client: app, user: USER, scope: 'openid offline_access' });
      const jwtFlow = await codeFlow({ baseUrl: url, client: app, user: USER, scope: 'openid offline_access read', resource: API, agent: opaque.agent });
      const refreshed = await refresh(url, app, jwtFlow.refresh_token!);
      expect(refreshed.status).toBe(200);
      const tokens = [opaque.access_token, opaque.refresh_token!, jwtFlow.access_token, refreshed.body.access_token!, refreshed.body.refresh_token!];
      for (const token of tokens) expect(await introspect(url, app, token)).toMatchObject({ active: true });

      const reuse = await refresh(url, app, jwtFlow.refresh_token!);
      expect(reuse.body).toMatchObject({ error: 'invalid_grant' });
      for (const token of tokens) expect(await introspect(url, app, token)).toEqual({ active: false });
      for (const token of tokens) expect(await introspect(url, introspector, token)).toEqual({ active: false });
    });

    test('revoking a refresh token (RFC 7009) takes the grant\'s access tokens, JWTs included, with it', async () => {
      const tokens = await codeFlow({ baseUrl: url, client: app, user: USER, scope: 'openid offline_access read', resource: API });
      expect(await introspect(url, app, tokens.access_token)).toMatchObject({ active: true });
      expect((await revoke(url, app, tokens.refresh_token!)).status).toBe(200);
      expect(await introspect(url, app, tokens.refresh_token!)).toEqual({ active: false });
      expect(await introspect(url, app, tokens.access_token)).toEqual({ active: false });
    });
  });

  test('no input makes a 5xx at either endpoint', async () => {
    const token = await clientCredentials(url, svc, API, 'read');
    const inputs: Array<Record<string, string>> = [
      {}, { token: '' }, { token: 'x'.repeat(50_000) }, { token: '....' }, { token: 'eyJ.eyJ.eyJ' },
      { token: `${Buffer.from('{"alg":"ES256","crit":["x"]}').toString('base64url')}.e30.AA` },
      { token: `${Buffer.from('{"alg":"RS256","kid":"nope"}').toString('base64url')}.${Buffer.from('[]').toString('base64url')}.AA` },
      { token: `${Buffer.from('{"alg":"ES256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('"str"').toString('base64url')}.AA` },
      { token: 'a.b.c.d.e' }, { token: '\u0000\uffff' }, { token, token_type_hint: 'nonsense' },
    ];
    for (const endpoint of ['introspection', 'revocation'] as const) {
      for (const params of inputs) {
        const res = await tokenEndpoint(url, endpoint, svc, params);
        expect({ endpoint, params: JSON.stringify(params).slice(0, 80), status: res.status }).toMatchObject({ status: expect.any(Number) });
        expect(res.status).toBeLessThan(500);
      }
      // duplicated parameters and an oversized body
      const dup = await fetch(`${url}/token/${endpoint}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${svc.clientId}:${svc.clientSecret}`).toString('base64')}` },
        body: `token=${token}&token=${token}`,
      });
      expect(dup.status).toBe(400);
      const big = await fetch(`${url}/token/${endpoint}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `token=${'x'.repeat(200_000)}`,
      });
      expect(big.status).toBeLessThan(500);
    }
  });
});
