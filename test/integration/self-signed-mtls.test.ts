// self_signed_tls_client_auth (RFC 8705 §2.2). The client registers its own
// self-signed certificate in its JWKS (x5c), through the admin API. It
// authenticates with that certificate in the TLS handshake, and no CA vouches
// for it. Every other use of certificates stays with CA-verified ones: a
// tls_client_auth client is not helped by a self-signed certificate.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { createCertificateAuthority, type CertificateAuthority, type IssuedCertificate } from '../support/certificate-authority.ts';
import { httpsFetch } from '../support/https-client.ts';
import { readAdminCredentials } from '../../src/admin/index.ts';
import { basicAuth } from '../support/oauth.ts';

const API = 'https://api.example.test';

/** A self-signed certificate and its key: a "CA" of its own, which is exactly that. */
async function selfSigned(name: string): Promise<{ ca: CertificateAuthority; cert: string; key: string; x5c: string; jwk: Record<string, unknown> }> {
  const ca = await createCertificateAuthority(name);
  const cert = ca.ca;
  const x509 = new X509Certificate(cert);
  return { ca, cert, key: readFileSync(join(ca.dir, 'ca.key'), 'utf8'), x5c: x509.raw.toString('base64'), jwk: x509.publicKey.export({ format: 'jwk' }) as Record<string, unknown> };
}

/** A self-signed certificate whose validity ended in 2020 (openssl ca -selfsign, the only way to set past dates with OpenSSL 3.0). */
async function expiredSelfSigned(): Promise<{ dir: string; cert: string; key: string; x5c: string; jwk: Record<string, unknown> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-expired-'));
  const file = (name: string) => join(dir, name);
  writeFileSync(file('index.txt'), '');
  writeFileSync(file('serial'), '01\n');
  writeFileSync(file('ca.cnf'), `[ca]\ndefault_ca=x\n[x]\ndatabase=${file('index.txt')}\nnew_certs_dir=${dir}\nserial=${file('serial')}\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n`);
  const openssl = (...args: string[]) => promisify(execFile)('openssl', args, { timeout: 20_000 });
  await openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('key.pem'), '-out', file('csr.pem'), '-subj', '/CN=svc-expired');
  await openssl('ca', '-config', file('ca.cnf'), '-selfsign', '-keyfile', file('key.pem'), '-in', file('csr.pem'), '-out', file('issued.pem'),
    '-startdate', '200101000000Z', '-enddate', '200102000000Z', '-batch');
  const x509 = new X509Certificate(readFileSync(file('issued.pem')));
  return { dir, cert: x509.toString(), key: readFileSync(file('key.pem'), 'utf8'), x5c: x509.raw.toString('base64'), jwk: x509.publicKey.export({ format: 'jwk' }) as Record<string, unknown> };
}

describe('self_signed_tls_client_auth with mTLS served directly', () => {
  let clientCa: CertificateAuthority;
  let server: TestServer;
  let token: string;
  let own: Awaited<ReturnType<typeof selfSigned>>;
  let other: Awaited<ReturnType<typeof selfSigned>>;
  let issued: IssuedCertificate;
  let clientId: string;

  const tokenRequest = async (id: string, cert?: { cert: string; key: string }) => {
    const res = await httpsFetch({ ca: clientCa.ca, cert: cert?.cert, key: cert?.key })(`${server.url}/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, resource: API, scope: 'read' }).toString(),
    });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  };

  /** The admin API over https (the global fetch cannot trust the test CA). */
  const call = async (_server: TestServer, bearer: string, method: string, path: string, body?: unknown) => {
    const res = await httpsFetch({ ca: clientCa.ca })(`${server.url}/admin/v1${path}`, {
      method, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() as any };
  };
  const adminToken = async () => {
    const admin = readAdminCredentials(server.config.keysDir, {})!;
    const res = await httpsFetch({ ca: clientCa.ca })(`${server.url}/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth({ clientId: admin.client_id, clientSecret: admin.client_secret }) },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${server.issuer}/admin`, scope: 'admin' }).toString(),
    });
    return (await res.json() as { access_token: string }).access_token;
  };

  beforeAll(async () => {
    clientCa = await createCertificateAuthority('Tessera test client CA');
    const serverCert = await clientCa.issue('server', '/CN=localhost', ['DNS:localhost', 'IP:127.0.0.1']);
    issued = await clientCa.issue('svc', '/CN=svc-self/O=Example', ['DNS:svc-self.example.test']);
    own = await selfSigned('svc-self');
    other = await selfSigned('svc-self');
    server = await startTestServer({ tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, clientCaFile: clientCa.caFile } });
    token = await adminToken();
    await server.services.resources.create({ identifier: API, scopes: ['read'] });
    const made = await call(server, token, 'POST', '/clients', {
      name: 'self-signed service', grant_types: ['client_credentials'], scopes: ['read'],
      token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ ...own.jwk, x5c: [own.x5c] }] },
    });
    expect(made.status).toBe(201);
    expect(made.body).not.toHaveProperty('client_secret');
    clientId = made.body.client_id;
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    for (const ca of [clientCa, own?.ca, other?.ca]) ca?.remove();
  });

  test('discovery advertises it', async () => {
    const res = await httpsFetch({ ca: clientCa.ca })(`${server.url}/.well-known/openid-configuration`);
    expect((await res.json() as { token_endpoint_auth_methods_supported: string[] }).token_endpoint_auth_methods_supported).toContain('self_signed_tls_client_auth');
  });

  test('the registered self-signed certificate authenticates the client', async () => {
    const res = await tokenRequest(clientId, own);
    expect(res.status).toBe(200);
    expect(res.body.access_token).toEqual(expect.any(String));
  });

  test('no certificate, another self-signed certificate, or a certificate of the client CA: refused', async () => {
    for (const cert of [undefined, other, { cert: issued.cert, key: issued.key }]) {
      expect(await tokenRequest(clientId, cert)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    }
  });

  test('a self-signed certificate does not authenticate a tls_client_auth client with the same subject', async () => {
    const made = await call(server, token, 'POST', '/clients', {
      name: 'ca service', grant_types: ['client_credentials'], scopes: ['read'],
      token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=svc-self',
    });
    expect(made.status).toBe(201);
    expect(await tokenRequest(made.body.client_id, own)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  // attack review: the certificate no CA vouches for must at least be within its validity period
  test('a registered self-signed certificate that has expired does not authenticate', async () => {
    const expired = await expiredSelfSigned();
    try {
      const made = await call(server, token, 'POST', '/clients', {
        name: 'expired service', grant_types: ['client_credentials'], scopes: ['read'],
        token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ ...expired.jwk, x5c: [expired.x5c] }] },
      });
      expect(made.status).toBe(201);
      expect(await tokenRequest(made.body.client_id, expired)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    } finally {
      rmSync(expired.dir, { recursive: true, force: true });
    }
  });

  test('registration: the certificate is required (x5c), must hold the registered key, and bound tokens are refused', async () => {
    const base = { name: 'x', grant_types: ['client_credentials'], scopes: ['read'], token_endpoint_auth_method: 'self_signed_tls_client_auth' };
    const noCertificate = await call(server, token, 'POST', '/clients', { ...base, jwks: { keys: [own.jwk] } });
    expect(noCertificate.status).toBe(400);
    expect(noCertificate.body.errors[0]).toMatchObject({ field: 'jwks', message: expect.stringMatching(/x5c/) });
    const mismatched = await call(server, token, 'POST', '/clients', { ...base, jwks: { keys: [{ ...own.jwk, x5c: [other.x5c] }] } });
    expect(mismatched.status).toBe(400);
    expect(mismatched.body.errors[0].message).toMatch(/another key/);
    const bound = await call(server, token, 'POST', '/clients', { ...base, jwks: { keys: [{ ...own.jwk, x5c: [own.x5c] }] }, tls_client_certificate_bound_access_tokens: true });
    expect(bound.status).toBe(400);
    expect(bound.body.errors[0].field).toBe('tls_client_certificate_bound_access_tokens');
  });
});
