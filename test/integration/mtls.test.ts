import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { request } from 'node:http';
import { hash, X509Certificate } from 'node:crypto';
import { decodeJwt } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { createCertificateAuthority, type CertificateAuthority, type IssuedCertificate } from '../support/certificate-authority.ts';
import { httpsFetch } from '../support/https-client.ts';
import { authorize, basicAuth } from '../support/oauth.ts';

/*
 * mTLS (RFC 8705) with a CA and client certificates made here by openssl:
 * tls_client_auth at the token endpoint, access tokens bound to the
 * certificate (cnf.x5t#S256) from client_credentials and the password grant,
 * and the places that must refuse a bound token presented without its
 * certificate (userinfo, the admin API); introspection tells resource servers
 * the binding. Then the same behind a TLS-terminating proxy: the certificate
 * header is believed only from the trusted proxy's address.
 */

const API = 'https://api.example.test';
const PASSWORD = 'a long and unguessable passphrase';
const thumbprintOf = (issued: IssuedCertificate) => hash('sha256', new X509Certificate(issued.cert).raw, 'base64url');

type Answer = { status: number; headers: Headers; body: any };

async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, body };
}

describe('mTLS served directly (TLS_CLIENT_CA_FILE)', () => {
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let server: TestServer;
  let svcA: IssuedCertificate; // CN=svc-a,O=Example from the client CA
  let svcB: IssuedCertificate; // another certificate of the same CA (SAN svc-b.example.test)
  let forged: IssuedCertificate; // CN=svc-a,O=Example from a CA the server does not know
  let boundService: string;

  /** A form POST over https, with `cert` as the client certificate (or none). */
  const post = async (path: string, form: Record<string, string>, cert?: IssuedCertificate, headers: Record<string, string> = {}) => answerOf(
    await httpsFetch({ ca: ca.ca, cert: cert?.cert, key: cert?.key })(`${server.url}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString(),
    }),
  );
  const get = async (path: string, token: string, cert?: IssuedCertificate) => answerOf(
    await httpsFetch({ ca: ca.ca, cert: cert?.cert, key: cert?.key })(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } }),
  );

  beforeAll(async () => {
    ca = await createCertificateAuthority('Tessera test client CA');
    otherCa = await createCertificateAuthority('Some other CA');
    const serverCert = await ca.issue('server', '/CN=localhost', ['DNS:localhost', 'IP:127.0.0.1']);
    svcA = await ca.issue('svc-a', '/CN=svc-a/O=Example', ['DNS:svc-a.example.test']);
    svcB = await ca.issue('svc-b', '/CN=svc-b/O=Example', ['DNS:svc-b.example.test', 'URI:spiffe://example.test/svc-b']);
    forged = await otherCa.issue('forged', '/CN=svc-a/O=Example', ['DNS:svc-a.example.test']);
    server = await startTestServer({ tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, clientCaFile: ca.caFile } });
    await server.services.resources.create({ identifier: API, scopes: ['read'] });
    ({ clientId: boundService } = await server.createClient({
      name: 'bound service', grantTypes: ['client_credentials'], scopes: ['read'],
      tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuth: { tls_client_auth_subject_dn: 'CN=svc-a,O=Example' },
      tlsClientCertificateBoundAccessTokens: true,
    }));
  });
  afterAll(async () => {
    await server?.stop();
    ca?.remove();
    otherCa?.remove();
  });

  test('discovery advertises tls_client_auth, self_signed_tls_client_auth (test/integration/self-signed-mtls.test.ts) and certificate-bound tokens', async () => {
    const res = await answerOf(await httpsFetch({ ca: ca.ca })(`${server.url}/.well-known/openid-configuration`));
    expect(res.body.token_endpoint_auth_methods_supported).toContain('tls_client_auth');
    expect(res.body.token_endpoint_auth_methods_supported).toContain('self_signed_tls_client_auth');
    expect(res.body.tls_client_certificate_bound_access_tokens).toBe(true);
  });

  test('a tls_client_auth client gets a client_credentials token bound to its certificate (cnf.x5t#S256)', async () => {
    const res = await post('/token', { grant_type: 'client_credentials', client_id: boundService, resource: API, scope: 'read' }, svcA);
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('Bearer');
    const claims = decodeJwt(res.body.access_token);
    expect(claims.cnf).toEqual({ 'x5t#S256': thumbprintOf(svcA) });
    expect(claims.client_id).toBe(boundService);
  });

  test('tls_client_auth refuses no certificate, a certificate of another CA with the same subject, and another subject of the CA', async () => {
    for (const cert of [undefined, forged, svcB]) {
      const res = await post('/token', { grant_type: 'client_credentials', client_id: boundService, resource: API, scope: 'read' }, cert);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    }
  });

  test('a subject alternative name (dNSName, URI) identifies a tls_client_auth client exactly', async () => {
    const { clientId: byDns } = await server.createClient({
      name: 'by dns', grantTypes: ['client_credentials'], scopes: ['read'],
      tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuth: { tls_client_auth_san_dns: 'svc-b.example.test' },
    });
    const { clientId: byUri } = await server.createClient({
      name: 'by uri', grantTypes: ['client_credentials'], scopes: ['read'],
      tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuth: { tls_client_auth_san_uri: 'spiffe://example.test/svc-b' },
    });
    for (const clientId of [byDns, byUri]) {
      expect((await post('/token', { grant_type: 'client_credentials', client_id: clientId, resource: API, scope: 'read' }, svcB)).status).toBe(200);
      expect((await post('/token', { grant_type: 'client_credentials', client_id: clientId, resource: API, scope: 'read' }, svcA)).status).toBe(401);
    }
    // not bound: absent means a bearer token
    const res = await post('/token', { grant_type: 'client_credentials', client_id: byDns, resource: API, scope: 'read' }, svcB);
    expect(decodeJwt(res.body.access_token).cnf).toBeUndefined();
  });

  test('introspection tells the resource server the binding', async () => {
    const { clientId, clientSecret } = await server.createClient({ name: 'api', grantTypes: ['client_credentials'], introspectFor: [API] });
    const issued = await post('/token', { grant_type: 'client_credentials', client_id: boundService, resource: API, scope: 'read' }, svcA);
    const res = await post('/token/introspection', { token: issued.body.access_token }, undefined, { authorization: basicAuth({ clientId, clientSecret }) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ active: true, client_id: boundService, cnf: { 'x5t#S256': thumbprintOf(svcA) } });
  });

  test('the password grant binds a bound client\'s tokens; userinfo refuses them without the certificate or with another one', async () => {
    await server.createUser({ username: 'alice', password: PASSWORD });
    const { clientId, clientSecret } = await server.createClient({
      name: 'first-party app', grantTypes: ['password'], firstParty: true, scopes: ['openid', 'profile'],
      tlsClientCertificateBoundAccessTokens: true,
    });
    const auth = { authorization: basicAuth({ clientId, clientSecret }) };
    const form = { grant_type: 'password', username: 'alice', password: PASSWORD, scope: 'openid' };
    // bound, but no certificate: refused, never a bearer token
    const unbound = await post('/token', form, undefined, auth);
    expect(unbound.status).toBe(400);
    expect(unbound.body.error).toBe('invalid_grant');

    const issued = await post('/token', form, svcB, auth);
    expect(issued.status).toBe(200);
    const token = issued.body.access_token as string;

    for (const cert of [undefined, svcA, forged]) {
      const res = await get('/me', token, cert);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('invalid_token');
    }
    const res = await get('/me', token, svcB);
    expect(res.status).toBe(200);
    expect(res.body.sub).toBeDefined();
  });

  test('the admin API refuses a certificate-bound admin token without its certificate', async () => {
    const { clientId } = await server.createClient({
      name: 'bound admin', grantTypes: ['client_credentials'], scopes: ['admin'],
      tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuth: { tls_client_auth_san_dns: 'svc-a.example.test' },
      tlsClientCertificateBoundAccessTokens: true,
    });
    const issued = await post('/token', { grant_type: 'client_credentials', client_id: clientId, resource: `${server.issuer}/admin`, scope: 'admin' }, svcA);
    expect(issued.status).toBe(200);
    const token = issued.body.access_token as string;
    for (const cert of [undefined, svcB]) {
      const res = await get('/admin/v1/clients', token, cert);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('invalid_token');
    }
    expect((await get('/admin/v1/clients', token, svcA)).status).toBe(200);
  });
});

describe('mTLS behind a TLS-terminating proxy (TLS_CLIENT_CERT_HEADER)', () => {
  const PROXY = '127.0.0.2'; // Linux answers on all of 127.0.0.0/8: the trusted proxy connects from here
  let ca: CertificateAuthority;
  let server: TestServer;
  let svcA: IssuedCertificate;
  let clientId: string;

  /** A form POST (GET without a form) over plain http from `from`, with the proxy's certificate header. */
  const postFrom = (from: string, path: string, form: Record<string, string> | undefined, headers: Record<string, string>) => new Promise<{ status: number; body: any }>((resolve, reject) => {
    const body = form ? new URLSearchParams(form).toString() : '';
    const req = request(`${server.url}${path}`, {
      method: form ? 'POST' : 'GET', localAddress: from, agent: false,
      headers: { ...(form ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {}), ...headers },
    }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });

  beforeAll(async () => {
    ca = await createCertificateAuthority();
    svcA = await ca.issue('svc-a', '/CN=svc-a/O=Example', ['DNS:svc-a.example.test']);
    server = await startTestServer({ config: { proxy: { addresses: [`${PROXY}/32`] }, tls: { clientCertificateHeader: 'X-Client-Cert' } } });
    await server.services.resources.create({ identifier: API, scopes: ['read'] });
    ({ clientId } = await server.createClient({
      name: 'bound service', grantTypes: ['client_credentials'], scopes: ['read'],
      tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuth: { tls_client_auth_subject_dn: 'CN=svc-a,O=Example' },
      tlsClientCertificateBoundAccessTokens: true,
    }));
  });
  afterAll(async () => {
    await server?.stop();
    ca?.remove();
  });

  test('the header is believed from the trusted proxy (URL-encoded PEM, as nginx $ssl_client_escaped_cert)', async () => {
    const res = await postFrom(PROXY, '/token', { grant_type: 'client_credentials', client_id: clientId, resource: API, scope: 'read' }, {
      'x-client-cert': encodeURIComponent(svcA.cert),
    });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).cnf).toEqual({ 'x5t#S256': thumbprintOf(svcA) });
  });

  test('the same header from a peer that is not a trusted proxy is ignored', async () => {
    const res = await postFrom('127.0.0.1', '/token', { grant_type: 'client_credentials', client_id: clientId, resource: API, scope: 'read' }, {
      'x-client-cert': encodeURIComponent(svcA.cert),
    });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  test('authorization code flow: the code redeemed with the certificate gives a bound token; userinfo wants the certificate too', async () => {
    await server.createUser({ username: 'bob', password: PASSWORD });
    const redirectUri = 'https://app.example.test/callback';
    const { clientId: app } = await server.createClient({
      name: 'web app', grantTypes: ['authorization_code'], redirectUris: [redirectUri], scopes: ['openid'],
      tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuth: { tls_client_auth_san_dns: 'svc-a.example.test' },
      tlsClientCertificateBoundAccessTokens: true,
    });
    const { code, verifier } = await authorize({ baseUrl: server.url, clientId: app, redirectUri, scope: 'openid', user: { username: 'bob', password: PASSWORD } });
    const certificate = { 'x-client-cert': encodeURIComponent(svcA.cert) };
    const res = await postFrom(PROXY, '/token', { grant_type: 'authorization_code', client_id: app, code: code!, code_verifier: verifier, redirect_uri: redirectUri }, certificate);
    expect(res.status).toBe(200);
    const token = res.body.access_token as string;
    // opaque (for userinfo): introspection is not needed to see the binding, userinfo enforces it
    expect((await postFrom(PROXY, '/me', undefined, { authorization: `Bearer ${token}` })).status).toBe(401);
    expect((await postFrom('127.0.0.1', '/me', undefined, { authorization: `Bearer ${token}`, ...certificate })).status).toBe(401);
    const me = await postFrom(PROXY, '/me', undefined, { authorization: `Bearer ${token}`, ...certificate });
    expect(me.status).toBe(200);
    expect(me.body.sub).toBeDefined();
  });

  test('a header that is not a certificate counts as none', async () => {
    const res = await postFrom(PROXY, '/token', { grant_type: 'client_credentials', client_id: clientId, resource: API, scope: 'read' }, {
      'x-client-cert': encodeURIComponent(svcA.cert.slice(0, 200)),
    });
    expect(res.status).toBe(401);
  });
});
