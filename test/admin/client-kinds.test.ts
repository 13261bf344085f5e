// Client kinds in the admin API and the CLI: native apps (RFC 8252), key-based
// clients (jwks, jwks_uri, private_key_jwt), PAR and JAR settings. What absent
// means, what is refused (naming the field), and how updates set, replace and
// remove them.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';
import { authorizationRequest } from '../support/oauth.ts';
import { adminToken, call, type Reply } from './admin-api.ts';

const REDIRECT_URI = 'https://kinds.example/callback';

async function publicJwk(alg: 'ES256' | 'RS256' = 'ES256') {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { publicJwk: { ...await exportJWK(publicKey), kid: randomUUID() }, privateJwk: { ...await exportJWK(privateKey), kid: randomUUID() } };
}

/** The field of each error of a 400 problem. */
const fieldsOf = (reply: Reply) => (reply.body.errors as Array<{ field: string }> | undefined)?.map((e) => e.field) ?? [];

describe('client kinds in the admin API', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await adminToken(server);
  });
  afterAll(async () => { await server?.stop(); });

  const create = (body: Record<string, unknown>) => call(server, token, 'POST', '/clients', { name: 'kind', grant_types: ['authorization_code'], scopes: ['openid'], ...body });
  const native = (body: Record<string, unknown> = {}) => create({ application_type: 'native', public: true, redirect_uris: ['http://127.0.0.1/callback'], ...body });

  /** The answer is a 400 naming `field`, and its message matches. */
  function refused(reply: Reply, field: string, message?: RegExp) {
    expect(reply.status).toBe(400);
    // ajv names the member inside the field (jwks.keys); Tessera's own rules the field
    expect(fieldsOf(reply).some((f) => f === field || f.startsWith(`${field}.`))).toBe(true);
    if (message) expect((reply.body.errors as Array<{ message: string }>).map((e) => e.message).join('\n')).toMatch(message);
  }

  test('absent means nothing: a client registered without these fields is web, has no keys, and is required nothing', async () => {
    const plain = await create({ redirect_uris: [REDIRECT_URI] });
    expect(plain.status).toBe(201);
    expect(plain.body).toMatchObject({
      application_type: 'web', jwks: null, jwks_uri: null, require_pushed_authorization_requests: false, require_signed_request_object: false,
    });
  });

  test('native: public, no client_credentials; loopback IPs, reverse-domain schemes and claimed https URIs; localhost and other hosts refused', async () => {
    const ok = await native({ redirect_uris: ['http://127.0.0.1/callback', 'http://[::1]/callback', 'com.example.notes:/callback', 'https://notes.example/app'] });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ application_type: 'native', public: true, token_endpoint_auth_method: 'none' });
    // its redirects go to the app, not to web pages: no origin may read its answers (absent web_origins)
    expect(ok.body.effective_web_origins).toEqual([]);

    refused(await create({ application_type: 'native', redirect_uris: ['http://127.0.0.1/callback'] }), 'public', /RFC 8252/);
    refused(await create({ application_type: 'native', token_endpoint_auth_method: 'private_key_jwt', redirect_uris: ['http://127.0.0.1/callback'] }), 'token_endpoint_auth_method', /public client/);
    refused(await native({ grant_types: ['authorization_code', 'client_credentials'] }), 'grant_types', /client_credentials/);
    refused(await native({ redirect_uris: ['http://localhost/callback'] }), 'redirect_uris', /127\.0\.0\.1.*localhost/);
    refused(await native({ redirect_uris: ['http://192.168.1.20/callback'] }), 'redirect_uris', /loopback/);
    refused(await native({ redirect_uris: ['notes:/callback'] }), 'redirect_uris', /reverse domain/);
    refused(await native({ redirect_uris: ['javascript:/alert'] }), 'redirect_uris');
    refused(await create({ application_type: 'desktop', public: true, redirect_uris: ['http://127.0.0.1/callback'] }), 'application_type');
  });

  test('a web client gets no native behaviour: no private-use scheme, and a loopback URI matches its exact port only', async () => {
    refused(await create({ redirect_uris: ['com.example.notes:/callback'] }), 'redirect_uris', /web uris/);
    const web = await create({ public: true, redirect_uris: ['http://127.0.0.1:4000/callback'] });
    expect(web.status).toBe(201);
    const at = (redirectUri: string) => fetch(authorizationRequest({ baseUrl: server.url, clientId: web.body.client_id, redirectUri, scope: 'openid' }).url, { redirect: 'manual' });
    const exact = await at('http://127.0.0.1:4000/callback');
    expect(exact.status).toBe(303);
    expect(exact.headers.get('location')).toMatch(/\/interaction\//);
    const otherPort = await at('http://127.0.0.1:4001/callback');
    expect(otherPort.status).toBe(400);
    expect(otherPort.headers.get('location')).toBeNull();
  });

  test('jwks: public asymmetric keys only, bounded; private members and symmetric keys refused by name', async () => {
    const { publicJwk, privateJwk } = await publicJwk0();
    const keyClient = (jwks: unknown, extra: Record<string, unknown> = {}) => create({ grant_types: ['client_credentials'], scopes: [], token_endpoint_auth_method: 'private_key_jwt', jwks, ...extra });
    const ok = await keyClient({ keys: [publicJwk] });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] }, public: false });
    expect(ok.body).not.toHaveProperty('client_secret');

    refused(await keyClient({ keys: [privateJwk] }), 'jwks', /private key material \("d"\)/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    refused(await keyClient({ keys: [rsa] }), 'jwks', /"d", "p", "q", "dp", "dq", "qi"/);
    refused(await keyClient({ keys: [{ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' }] }), 'jwks', /symmetric/);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    refused(await keyClient({ keys: [small] }), 'jwks', /1024 bits/);
    refused(await keyClient({ keys: [{ ...publicJwk, x: publicJwk.y }] }), 'jwks', /not a valid public key/);
    refused(await keyClient({ keys: [publicJwk, { ...publicJwk }] }), 'jwks', /repeats the kid/);
    refused(await keyClient({ keys: Array.from({ length: 11 }, () => ({ ...publicJwk, kid: randomUUID() })) }), 'jwks');
    refused(await keyClient({ keys: [] }), 'jwks');
    refused(await keyClient({ keys: [{ ...publicJwk, use: 'enc' }] }), 'jwks', /signing key/);
    refused(await keyClient({ keys: [{ ...publicJwk, x5c: ['A'.repeat(9000)] }] }), 'jwks');
    refused(await keyClient({ keys: [publicJwk] }, { jwks_uri: 'https://keys.example/jwks' }), 'jwks_uri', /not both/);
  });

  async function publicJwk0() { return publicJwk(); }

  test('jwks_uri: https at a public address; private, link-local, loopback (without the flag), http and credentials refused', async () => {
    const uriClient = (jwksUri: string) => create({ grant_types: ['client_credentials'], scopes: [], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri });
    const ok = await uriClient('https://keys.example/jwks');
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ jwks_uri: 'https://keys.example/jwks', jwks: null });
    refused(await uriClient('http://keys.example/jwks'), 'jwks_uri', /https/);
    refused(await uriClient('https://10.1.2.3/jwks'), 'jwks_uri', /private address/);
    refused(await uriClient('https://169.254.169.254/latest'), 'jwks_uri', /link-local/);
    refused(await uriClient('https://[fd00::1]/jwks'), 'jwks_uri', /private address/);
    refused(await uriClient('http://127.0.0.1:8080/jwks'), 'jwks_uri', /JWKS_URI_ALLOW_LOOPBACK/);
    refused(await uriClient('https://localhost/jwks'), 'jwks_uri', /JWKS_URI_ALLOW_LOOPBACK/);
    refused(await uriClient('https://user:pw@keys.example/jwks'), 'jwks_uri', /credentials/);
  });

  test('private_key_jwt needs keys; client_secret_jwt is refused (secrets are digests); a signed-request requirement needs keys', async () => {
    refused(await create({ grant_types: ['client_credentials'], scopes: [], token_endpoint_auth_method: 'private_key_jwt' }), 'jwks', /jwks or jwks_uri/);
    refused(await create({ grant_types: ['client_credentials'], scopes: [], token_endpoint_auth_method: 'client_secret_jwt' }), 'token_endpoint_auth_method', /digests/);
    refused(await create({ redirect_uris: [REDIRECT_URI], require_signed_request_object: true }), 'require_signed_request_object', /jwks or jwks_uri/);
    // without mTLS configured, as here
    refused(await create({ grant_types: ['client_credentials'], scopes: [], token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks_uri: 'https://keys.example/jwks' }), 'token_endpoint_auth_method', /mTLS/);
  });

  test('require_signed_request_object and require_pushed_authorization_requests: /auth refuses a plain request', async () => {
    const { publicJwk } = await publicJwk0();
    const jar = await create({ redirect_uris: [REDIRECT_URI], require_signed_request_object: true, jwks: { keys: [publicJwk] } });
    expect(jar.status).toBe(201);
    expect(jar.body.require_signed_request_object).toBe(true);
    const par = await create({ redirect_uris: [REDIRECT_URI], require_pushed_authorization_requests: true });
    expect(par.status).toBe(201);
    for (const [clientId, message] of [[jar.body.client_id, /Request Object must be used/], [par.body.client_id, /Pushed Authorization Request must be used/]] as const) {
      const res = await fetch(authorizationRequest({ baseUrl: server.url, clientId, redirectUri: REDIRECT_URI, scope: 'openid' }).url, { redirect: 'manual' });
      const location = new URL(res.headers.get('location')!);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('error_description')).toMatch(message);
    }
  });

  test('PATCH sets, replaces and removes keys (one source at a time), toggles the requirements, and audits each by name', async () => {
    const first = await publicJwk0();
    const second = await publicJwk0();
    const made = await create({ grant_types: ['client_credentials'], scopes: [], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example/jwks' });
    const id = made.body.client_id;
    const patch = (body: Record<string, unknown>) => call(server, token, 'PATCH', `/clients/${id}`, body);

    const toJwks = await patch({ jwks: { keys: [first.publicJwk] } });
    expect(toJwks.status).toBe(200);
    expect(toJwks.body).toMatchObject({ jwks: { keys: [first.publicJwk] }, jwks_uri: null });
    expect((await patch({ jwks: { keys: [second.publicJwk] } })).body.jwks).toEqual({ keys: [second.publicJwk] });
    // a key client without keys could never authenticate
    refused(await patch({ jwks: null }), 'jwks', /jwks or jwks_uri/);
    refused(await patch({ jwks: { keys: [first.privateJwk] } }), 'jwks', /private key material/);
    expect((await patch({ jwks_uri: 'https://keys.example/v2/jwks' })).body).toMatchObject({ jwks: null, jwks_uri: 'https://keys.example/v2/jwks' });

    const toggled = await patch({ require_pushed_authorization_requests: true });
    expect(toggled.body.require_pushed_authorization_requests).toBe(true);
    expect((await patch({ name: 'renamed' })).body.require_pushed_authorization_requests).toBe(true);
    expect((await patch({ require_pushed_authorization_requests: false })).body.require_pushed_authorization_requests).toBe(false);

    // it has no secret to rotate; leaving private_key_jwt for a secret method gives it one, once
    expect((await call(server, token, 'POST', `/clients/${id}/rotate-secret`, {})).status).toBe(409);
    const toSecret = await patch({ token_endpoint_auth_method: 'client_secret_basic', jwks_uri: null });
    expect(toSecret.status).toBe(200);
    expect(toSecret.body.client_secret).toEqual(expect.any(String));
    expect(toSecret.body).toMatchObject({ jwks: null, jwks_uri: null });

    const events = await call(server, token, 'GET', `/audit?type=client.updated&subject=${id}&limit=50`);
    const details = events.body.items.map((e: { details: Record<string, unknown> }) => e.details);
    expect(details).toEqual(expect.arrayContaining([
      expect.objectContaining({ fields: ['jwks', 'jwks_uri'], jwks_kids: [first.publicJwk.kid], jwks_uri: null }),
      expect.objectContaining({ fields: ['require_pushed_authorization_requests'], require_par: false }),
    ]));
  });

  test('the CLI: --application-type, --jwks FILE (a private key refused, naming the field), --require-par, --no-jwks', async () => {
    const env = adminCliEnv(server);
    const keys = await publicJwk0();
    const file = join(server.dir, 'one-key.json');
    writeFileSync(file, JSON.stringify(keys.publicJwk)); // one JWK: taken as a set of one
    const made = await runTesseraCli(['clients', 'create', '--name', 'cli keys', '--grant-types', 'authorization_code', '--redirect-uris', REDIRECT_URI,
      '--scopes', 'openid', '--token-endpoint-auth-method', 'private_key_jwt', '--jwks', file, '--require-par', '--require-signed-request-object', '--json'], env);
    expect(made.code).toBe(0);
    expect(made.json).toMatchObject({ jwks: { keys: [keys.publicJwk] }, require_pushed_authorization_requests: true, require_signed_request_object: true });

    const secretFile = join(server.dir, 'private-key.json');
    writeFileSync(secretFile, JSON.stringify({ keys: [keys.privateJwk] }));
    const leaked = await runTesseraCli(['clients', 'create', '--name', 'oops', '--grant-types', 'client_credentials', '--token-endpoint-auth-method', 'private_key_jwt', '--jwks', secretFile], env);
    expect(leaked.code).not.toBe(0);
    expect(leaked.stderr).toMatch(/jwks.*private key material/);
    expect(leaked.stderr).not.toContain(keys.privateJwk.d as string);

    const badType = await runTesseraCli(['clients', 'create', '--name', 'x', '--grant-types', 'authorization_code', '--application-type', 'desktop'], env);
    expect(badType.code).not.toBe(0);
    expect(badType.stderr).toMatch(/--application-type must be web or native/);
    const missing = await runTesseraCli(['clients', 'create', '--name', 'x', '--grant-types', 'client_credentials', '--jwks', join(server.dir, 'absent.json')], env);
    expect(missing.stderr).toMatch(/--jwks: cannot read/);

    const updated = await runTesseraCli(['clients', 'update', made.json.client_id, '--no-require-par', '--no-require-signed-request-object', '--token-endpoint-auth-method', 'client_secret_basic', '--no-jwks', '--json'], env);
    expect(updated.code).toBe(0);
    expect(updated.json).toMatchObject({ jwks: null, require_pushed_authorization_requests: false, require_signed_request_object: false, token_endpoint_auth_method: 'client_secret_basic' });
    expect(updated.json.client_secret).toEqual(expect.any(String));
  });
});
