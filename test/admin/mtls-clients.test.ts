import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminToken, call } from './admin-api.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';
import { tokenRequest } from '../support/oauth.ts';

/*
 * Registering mTLS clients (RFC 8705) through the admin API and the CLI:
 * tls_client_auth with exactly one certificate subject and no secret, the
 * certificate-bound tokens flag, changes to both; and their refusal on a
 * server without mTLS, at registration and for a client stored before.
 * mTLS is configured here by the proxy header alone (no TLS needed to register).
 */

const MTLS = { tls: { clientCertificateHeader: 'X-Client-Cert' }, proxy: { addresses: ['127.0.0.2/32'] } };
const API = 'https://api.example.test';

describe('mTLS client registration', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ database: 'file', config: MTLS });
    token = await adminToken(server);
  });
  afterAll(async () => { await server?.stop(); });

  test('tls_client_auth with one subject: no secret, the subject and the binding shown', async () => {
    const res = await call(server, token, 'POST', '/clients', {
      name: 'svc', grant_types: ['client_credentials'], token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: 'CN=svc,O=Example', tls_client_certificate_bound_access_tokens: true,
    });
    expect(res.status).toBe(201);
    expect(res.body.client_secret).toBeUndefined();
    expect(res.body).toMatchObject({
      token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=svc,O=Example',
      tls_client_certificate_bound_access_tokens: true, public: false,
    });
    const rotate = await call(server, token, 'POST', `/clients/${res.body.client_id}/rotate-secret`, {});
    expect(rotate.status).toBe(409);
    expect(rotate.body.detail).toContain('tls_client_auth client authenticates with its certificate');
  });

  test('absent: not bound', async () => {
    const res = await call(server, token, 'POST', '/clients', { name: 'plain', grant_types: ['client_credentials'] });
    expect(res.status).toBe(201);
    expect(res.body.tls_client_certificate_bound_access_tokens).toBe(false);
  });

  test('tls_client_auth needs exactly one subject field, and a subject needs tls_client_auth', async () => {
    const none = await call(server, token, 'POST', '/clients', { name: 'x', grant_types: ['client_credentials'], token_endpoint_auth_method: 'tls_client_auth' });
    expect(none.status).toBe(400);
    expect(none.body.detail).toMatch(/tls_client_auth requires one of the certificate subject/);
    const two = await call(server, token, 'POST', '/clients', {
      name: 'x', grant_types: ['client_credentials'], token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: 'CN=svc', tls_client_auth_san_dns: 'svc.example.test',
    });
    expect(two.status).toBe(400);
    expect(two.body.detail).toMatch(/only one tls_client_auth certificate subject/);
    const withoutMethod = await call(server, token, 'POST', '/clients', { name: 'x', grant_types: ['client_credentials'], tls_client_auth_san_dns: 'svc.example.test' });
    expect(withoutMethod.status).toBe(400);
    expect(withoutMethod.body.errors[0].field).toBe('tls_client_auth_san_dns');
  });

  test('PATCH: a subject field replaces the stored one; the binding is switched off; a secret method gets a new secret, once', async () => {
    const created = await call(server, token, 'POST', '/clients', {
      name: 'svc2', grant_types: ['client_credentials'], token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: 'CN=svc2', tls_client_certificate_bound_access_tokens: true,
    });
    const id = created.body.client_id as string;
    const changed = await call(server, token, 'PATCH', `/clients/${id}`, { tls_client_auth_san_uri: 'spiffe://example.test/svc2', tls_client_certificate_bound_access_tokens: false });
    expect(changed.status).toBe(200);
    expect(changed.body.tls_client_auth_san_uri).toBe('spiffe://example.test/svc2');
    expect(changed.body.tls_client_auth_subject_dn).toBeUndefined();
    expect(changed.body.tls_client_certificate_bound_access_tokens).toBe(false);

    const toSecret = await call(server, token, 'PATCH', `/clients/${id}`, { token_endpoint_auth_method: 'client_secret_basic' });
    expect(toSecret.status).toBe(200);
    expect(toSecret.body.token_endpoint_auth_method).toBe('client_secret_basic');
    expect(toSecret.body.tls_client_auth_san_uri).toBeUndefined();
    expect(typeof toSecret.body.client_secret).toBe('string');

    // and back: the secret is gone with the method
    await server.services.resources.create({ identifier: API, scopes: ['read'] });
    await call(server, token, 'PATCH', `/clients/${id}`, { scopes: ['read'] });
    expect((await tokenRequest(server.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, { clientId: id, clientSecret: toSecret.body.client_secret })).status).toBe(200);
    const back = await call(server, token, 'PATCH', `/clients/${id}`, { token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'svc2.example.test' });
    expect(back.status).toBe(200);
    expect(back.body.client_secret).toBeUndefined();
    const withOldSecret = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, { clientId: id, clientSecret: toSecret.body.client_secret });
    expect(withOldSecret.status).toBe(401);
  });

  test('the CLI registers and changes them', async () => {
    const env = adminCliEnv(server);
    const created = await runTesseraCli(['clients', 'create', '--name', 'cli svc', '--grant-types', 'client_credentials',
      '--token-endpoint-auth-method', 'tls_client_auth', '--tls-client-auth-san-dns', 'cli.example.test',
      '--tls-client-certificate-bound-access-tokens', '--json'], env);
    expect(created.code).toBe(0);
    expect(created.json).toMatchObject({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'cli.example.test', tls_client_certificate_bound_access_tokens: true });
    expect(created.json.client_secret).toBeUndefined();

    const human = await runTesseraCli(['clients', 'create', '--name', 'cli svc 2', '--grant-types', 'client_credentials',
      '--token-endpoint-auth-method', 'tls_client_auth', '--tls-client-auth-subject-dn', 'CN=cli2,O=Example'], env);
    expect(human.stdout).toContain('tls_client_auth: it authenticates with its certificate, no secret');

    const updated = await runTesseraCli(['clients', 'update', created.json.client_id, '--no-tls-client-certificate-bound-access-tokens', '--tls-client-auth-san-email', 'svc@example.test', '--json'], env);
    expect(updated.code).toBe(0);
    expect(updated.json).toMatchObject({ tls_client_auth_san_email: 'svc@example.test', tls_client_certificate_bound_access_tokens: false });
    expect(updated.json.tls_client_auth_san_dns).toBeUndefined();
  });

  test('a bound client stored while mTLS was on is refused after a restart without it (never bearer tokens)', async () => {
    await server.services.resources.create({ identifier: 'https://bound.example.test', scopes: ['read'] }).catch(() => {});
    const { clientId, clientSecret } = await server.createClient({
      name: 'bound with a secret', grantTypes: ['client_credentials'], scopes: ['read'], tlsClientCertificateBoundAccessTokens: true,
    });
    const { clientId: byCertificate } = await server.createClient({
      name: 'tls_client_auth', grantTypes: ['client_credentials'], scopes: ['read'],
      tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuth: { tls_client_auth_san_dns: 'svc.example.test' },
    });
    const port = server.config.port;
    await server.stop({ keep: true });
    const restarted = await startTestServer({ dir: server.dir, database: 'file', port });
    try {
      const res = await tokenRequest(restarted.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, { clientId, clientSecret });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      const other = await tokenRequest(restarted.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, { clientId: byCertificate });
      expect(other.status).toBe(401);
      expect(other.body.error).toBe('invalid_client');
      // and none can be registered there
      const refused = await call(restarted, await adminToken(restarted), 'POST', '/clients', {
        name: 'x', grant_types: ['client_credentials'], tls_client_certificate_bound_access_tokens: true,
      });
      expect(refused.status).toBe(400);
      expect(refused.body.detail).toMatch(/need mTLS, which this server has not configured/);
    } finally {
      await restarted.stop();
      server = await startTestServer({ dir: server.dir, database: 'file', config: MTLS });
    }
  });
});

describe('a server without mTLS', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer(); });
  afterAll(async () => { await server?.stop(); });

  test('refuses tls_client_auth and certificate-bound tokens, naming the setting', async () => {
    const token = await adminToken(server);
    const method = await call(server, token, 'POST', '/clients', { name: 'x', grant_types: ['client_credentials'], token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'x.example.test' });
    expect(method.status).toBe(400);
    expect(method.body.errors[0]).toMatchObject({ field: 'token_endpoint_auth_method' });
    expect(method.body.detail).toContain('TLS_CLIENT_CA_FILE or TLS_CLIENT_CERT_HEADER');
    const bound = await call(server, token, 'POST', '/clients', { name: 'x', grant_types: ['client_credentials'], tls_client_certificate_bound_access_tokens: true });
    expect(bound.status).toBe(400);
    expect(bound.body.errors[0]).toMatchObject({ field: 'tls_client_certificate_bound_access_tokens' });
  });

  test('discovery advertises neither', async () => {
    const body = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(body.token_endpoint_auth_methods_supported).not.toContain('tls_client_auth');
    expect(body.tls_client_certificate_bound_access_tokens).toBeUndefined();
  });
});
