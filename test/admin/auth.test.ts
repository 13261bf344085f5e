import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { readAdminCredentials } from '../../src/admin/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { accessTokenOf, tokenRequest } from '../support/oauth.ts';
import { adminToken, adminTokenFor, adminTokenRequest, call } from './admin-api.ts';

describe('admin API access', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer(); });
  afterAll(async () => { await server?.stop(); });

  test('no token → 401 problem with WWW-Authenticate', async () => {
    const res = await call(server, undefined, 'GET', '/users');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized' });
  });

  test('a forged token → 401 invalid_token', async () => {
    const res = await call(server, undefined, 'GET', '/users', undefined, { authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  test('a client not allowed admin gets no admin-audience token, and its API token is refused (401 invalid_token)', async () => {
    // (a well-signed admin-audience token without the scope gets 403 insufficient_scope:
    // test/security/admin-authorization-matrix.test.ts signs one with the server's key)
    await server.services.resources.create({ identifier: 'https://api.auth-test.example', scopes: ['read'] });
    const notAdmin = await server.createClient({ name: 'not admin', grantTypes: ['client_credentials'], scopes: ['read'] });
    await expect(adminTokenFor(server, notAdmin)).rejects.toThrow(/invalid_target/);
    const apiToken = accessTokenOf(await tokenRequest(server.url, { grant_type: 'client_credentials', resource: 'https://api.auth-test.example', scope: 'read' }, notAdmin));
    const answer = await call(server, apiToken, 'GET', '/users');
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  test('a DPoP-bound admin token is refused (the admin API checks no proofs, so it would be a bearer token)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const proof = await new SignJWT({ htm: 'POST', htu: `${server.url}/token`, jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
      .setIssuedAt()
      .sign(privateKey);
    const credentials = readAdminCredentials(server.config.keysDir, {})!;
    const answer = await adminTokenRequest(server, { clientId: credentials.client_id, clientSecret: credentials.client_secret }, 'admin');
    expect(answer.body.token_type).toBe('Bearer'); // without a proof: a bearer token, accepted below
    expect((await call(server, answer.body.access_token as string, 'GET', '/users')).status).toBe(200);
    const bound = await tokenRequestWithProof(proof);
    expect(bound.token_type).toBe('DPoP');
    const refused = await call(server, bound.access_token as string, 'GET', '/users');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(refused.body.detail).toMatch(/DPoP-bound/);

    async function tokenRequestWithProof(dpop: string) {
      const res = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(credentials.client_id)}:${encodeURIComponent(credentials.client_secret)}`).toString('base64')}`,
          dpop,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${server.url}/admin`, scope: 'admin' }),
      });
      const body = await res.json() as Record<string, unknown>;
      if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(body)}`);
      return body;
    }
  });

  test('the admin client gets in; unknown endpoints and methods are problems too', async () => {
    const token = await adminToken(server);
    expect((await call(server, token, 'GET', '/users')).status).toBe(200);
    const missing = await call(server, token, 'GET', '/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const wrongMethod = await call(server, token, 'PUT', '/keys');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toContain('GET');
  });

  test('the OpenAPI 3.1 document is served without a token, built from the validation schemas', async () => {
    const res = await call(server, undefined, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    for (const path of ['/admin/v1/users', '/admin/v1/users/import', '/admin/v1/users/{idOrUsername}/disable', '/admin/v1/clients', '/admin/v1/resources',
      '/admin/v1/grants', '/admin/v1/grants/revoke', '/admin/v1/tokens/revoke', '/admin/v1/keys', '/admin/v1/audit']) {
      expect(res.body.paths).toHaveProperty([path]);
    }
    const { createUserSchema } = await import('../../src/admin/schemas/users.ts');
    expect(res.body.components.schemas.CreateUser).toEqual(createUserSchema);
    expect(res.body.paths['/admin/v1/users'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreateUser' });
  });

  test('keys list shows kid, kty, alg, use, status and dates, and nothing private', async () => {
    const res = await call(server, await adminToken(server), 'GET', '/keys');
    expect(res.status).toBe(200);
    expect(res.body.items.map((k: { alg: string }) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const key of res.body.items) {
      expect(Object.keys(key).sort()).toEqual(['activated_at', 'alg', 'created_at', 'kid', 'kty', 'status', 'use']);
      expect(key.status).toBe('current');
    }
  });
});
