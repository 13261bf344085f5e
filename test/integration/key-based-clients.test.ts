// Issue 14, "done means" 3: key-based clients. Keys are generated here; one
// client registers them with `tessera clients create --jwks FILE` (the CLI,
// as an operator runs it), another with a jwks_uri this test serves on
// loopback (JWKS_URI_ALLOW_LOOPBACK, development). oauth4webapi is the client:
// private_key_jwt at the token endpoint, signed request objects (JAR, RFC
// 9101) and pushed authorization requests (PAR, RFC 9126). Two instances on
// one Postgres and one Redis: a client assertion used at one is refused at
// the other.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startTestServer, startTwoInstances, type TestServer, type TwoInstances } from '../support/server.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';
import { BrowserAgent } from '../support/browser-agent.ts';
import { driveAuthorization, pkcePair } from '../support/oauth.ts';
import { adminToken, call } from '../admin/admin-api.ts';

const API = 'https://orders.example';
const REDIRECT_URI = 'https://keys.example/callback';
const PASSWORD = 'a long and unguessable passphrase';
const insecure = { [oauth.allowInsecureRequests]: true } as const;
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface KeyPair { privateKey: CryptoKey; kid: string; publicJwk: Record<string, unknown> }

async function keyPair(alg: 'ES256' | 'PS256' | 'EdDSA'): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { privateKey, kid, publicJwk: { ...await exportJWK(publicKey), kid, alg, use: 'sig' } };
}

describe('key-based clients: private_key_jwt, jwks and jwks_uri, JAR and PAR', () => {
  let pair: TwoInstances;
  let server: TestServer;
  let as: oauth.AuthorizationServer;
  let jwksServer: Server;
  let served: { keys: unknown[] } = { keys: [] };
  let fileKey: KeyPair;
  let uriKey: KeyPair;
  let fileClient: string;
  let uriClient: string;
  let parClient: string;

  /** `tessera clients create …` against instance A; the JSON it printed. */
  async function cli(args: string[]) {
    const run = await runTesseraCli([...args, '--json'], adminCliEnv(server));
    if (run.code !== 0) throw new Error(`tessera ${args.join(' ')} → ${run.code}: ${run.stderr}`);
    return run.json;
  }

  beforeAll(async () => {
    pair = await startTwoInstances({ redis: true, config: { jwksUri: { allowLoopback: true } } });
    server = pair.a;
    const token = await adminToken(server);
    expect((await call(server, token, 'POST', '/resources', { identifier: API, scopes: ['orders:read'] })).status).toBe(201);
    await server.createUser({ username: 'kim', password: PASSWORD });

    fileKey = await keyPair('ES256');
    const file = join(server.dir, 'client-jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [fileKey.publicJwk] }));
    fileClient = (await cli(['clients', 'create', '--name', 'orders batch', '--grant-types', 'client_credentials,authorization_code',
      '--redirect-uris', REDIRECT_URI, '--scopes', 'openid orders:read', '--token-endpoint-auth-method', 'private_key_jwt', '--jwks', file])).client_id;

    uriKey = await keyPair('PS256');
    served = { keys: [uriKey.publicJwk] };
    jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(served)));
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const jwksUri = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks`;
    uriClient = (await cli(['clients', 'create', '--name', 'orders sync', '--grant-types', 'client_credentials', '--scopes', 'orders:read',
      '--token-endpoint-auth-method', 'private_key_jwt', '--jwks-uri', jwksUri])).client_id;

    parClient = (await cli(['clients', 'create', '--name', 'orders portal', '--grant-types', 'authorization_code', '--redirect-uris', REDIRECT_URI,
      '--scopes', 'openid', '--token-endpoint-auth-method', 'private_key_jwt', '--jwks', file, '--require-par'])).client_id;

    as = await oauth.processDiscoveryResponse(new URL(server.issuer), await oauth.discoveryRequest(new URL(server.issuer), insecure));
  }, 60_000);

  afterAll(async () => {
    jwksServer?.closeAllConnections();
    jwksServer?.close();
    await pair?.stop();
  });

  const clientCredentials = async (clientId: string, key: KeyPair) => {
    const client: oauth.Client = { client_id: clientId };
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid }), { resource: API, scope: 'orders:read' }, insecure);
    return oauth.processClientCredentialsResponse(as, client, response);
  };

  /** A client assertion made by hand, to control its jti and lifetime. */
  // aud: the issuer, which every instance accepts (the token endpoint's URL is accepted too, as each instance sees it)
  const assertion = (clientId: string, key: KeyPair, claims: { jti?: string; expiresIn?: number; iat?: number; aud?: string | string[] } = {}) => new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: key.kid })
    .setIssuer(clientId).setSubject(clientId).setAudience(claims.aud ?? server.issuer)
    .setJti(claims.jti ?? randomUUID()).setIssuedAt(claims.iat).setExpirationTime(Math.floor(Date.now() / 1000) + (claims.expiresIn ?? 60))
    .sign(key.privateKey);

  const tokenWithAssertion = async (at: TestServer, clientAssertion: string) => {
    const res = await fetch(`${at.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: API, scope: 'orders:read', client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion }),
    });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  };

  test('discovery advertises what this part added: private_key_jwt, PAR, signed request objects (asymmetric only)', () => {
    expect(as.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['private_key_jwt', 'none']));
    expect(as.token_endpoint_auth_methods_supported).not.toContain('client_secret_jwt');
    expect(as.pushed_authorization_request_endpoint).toBe(`${server.issuer}/request`);
    expect(as.request_parameter_supported).toBe(true);
    expect(as.request_object_signing_alg_values_supported).toEqual(['RS256', 'PS256', 'ES256', 'EdDSA']);
    expect(as.request_uri_parameter_supported).toBe(false);
    // per client only: nothing is required server-wide
    expect(as.require_pushed_authorization_requests).toBeUndefined();
    expect(as.require_signed_request_object).toBeUndefined();
  });

  test('a client whose keys were registered with --jwks FILE gets a client_credentials token (private_key_jwt); it has no secret', async () => {
    const tokens = await clientCredentials(fileClient, fileKey);
    expect(tokens.access_token).toEqual(expect.any(String));
    const shown = await cli(['clients', 'show', fileClient]);
    expect(shown).toMatchObject({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [fileKey.publicJwk] }, jwks_uri: null });
    expect(shown).not.toHaveProperty('client_secret');
  });

  test('a client whose keys are at a jwks_uri (loopback, development flag) gets one too; another key is refused', async () => {
    expect((await clientCredentials(uriClient, uriKey)).access_token).toEqual(expect.any(String));
    const stranger = await keyPair('PS256');
    await expect(clientCredentials(uriClient, stranger)).rejects.toMatchObject({ error: 'invalid_client' });
  });

  test('a client assertion is single use across instances: the same jti again, at A or at B, is refused', async () => {
    const once = await assertion(fileClient, fileKey);
    expect((await tokenWithAssertion(pair.a, once)).status).toBe(200);
    expect(await tokenWithAssertion(pair.b, once)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await tokenWithAssertion(pair.a, once)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    // another assertion with the same jti (freshly signed) is a replay too
    const sameJti = randomUUID();
    expect((await tokenWithAssertion(pair.b, await assertion(fileClient, fileKey, { jti: sameJti }))).status).toBe(200);
    expect((await tokenWithAssertion(pair.a, await assertion(fileClient, fileKey, { jti: sameJti }))).status).toBe(401);
  });

  test('an assertion that would live longer than 5 minutes is refused', async () => {
    expect((await tokenWithAssertion(pair.a, await assertion(fileClient, fileKey, { expiresIn: 3600 }))).status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    expect((await tokenWithAssertion(pair.a, await assertion(fileClient, fileKey, { iat: now - 600, expiresIn: 60 }))).status).toBe(401);
    expect((await tokenWithAssertion(pair.a, await assertion(fileClient, fileKey, { expiresIn: 290 }))).status).toBe(200);
  });

  // T180: audience injection (draft-ietf-oauth-rfc7523bis): another authorization server the client also uses names
  // Tessera's token endpoint (or PAR endpoint) as its own endpoint; a client that puts that URL in `aud` hands that
  // server an assertion it can replay here. Only the issuer, alone, is an audience no other server can claim.
  test('audience: only the issuer, as a single value; the token endpoint, another endpoint, an array or another audience are refused (T180)', async () => {
    expect((await tokenWithAssertion(pair.a, await assertion(fileClient, fileKey, { aud: server.issuer }))).status).toBe(200);
    for (const aud of [`${server.issuer}/token`, `${server.issuer}/request`, 'https://elsewhere.example', [server.issuer, 'https://elsewhere.example'], [server.issuer]]) {
      expect(await tokenWithAssertion(pair.a, await assertion(fileClient, fileKey, { aud }))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    }
  });

  test('every advertised algorithm works for client assertions (token_endpoint_auth_signing_alg_values_supported) and request objects (request_object_signing_alg_values_supported)', async () => {
    expect(as.token_endpoint_auth_signing_alg_values_supported).toEqual(['RS256', 'PS256', 'ES256', 'EdDSA']);
    const token = await adminToken(server);
    for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA'] as const) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const kid = randomUUID();
      const made = await call(server, token, 'POST', '/clients', {
        name: `${alg} client`, grant_types: ['client_credentials', 'authorization_code'], redirect_uris: [REDIRECT_URI], scopes: ['openid', 'orders:read'],
        token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...await exportJWK(publicKey), kid }] },
      });
      expect(made.status).toBe(201);
      const clientId = made.body.client_id as string;
      const signed = await new SignJWT({}).setProtectedHeader({ alg, kid }).setIssuer(clientId).setSubject(clientId).setAudience(server.issuer)
        .setJti(randomUUID()).setIssuedAt().setExpirationTime('1m').sign(privateKey);
      expect({ alg, status: (await tokenWithAssertion(pair.a, signed)).status }).toEqual({ alg, status: 200 });
      const { challenge } = pkcePair();
      const request = await new SignJWT({ ...authorizationParams(clientId, challenge, 'x') }).setProtectedHeader({ alg, kid })
        .setIssuer(clientId).setAudience(server.issuer).setIssuedAt().setExpirationTime('1m').sign(privateKey);
      const res = await fetch(`${server.url}/auth?${new URLSearchParams({ client_id: clientId, request })}`, { redirect: 'manual' });
      // accepted: on to the sign-in pages
      expect({ alg, location: res.headers.get('location')?.includes('/interaction/') }).toEqual({ alg, location: true });
    }
  });

  /** Through the pages from an authorization URL to the code, then the code for tokens with private_key_jwt. */
  async function finish(clientId: string, authorizationUrl: string, verifier: string, state: string) {
    const client: oauth.Client = { client_id: clientId };
    const driven = await driveAuthorization(new BrowserAgent(), authorizationUrl, { redirectUri: REDIRECT_URI, user: { username: 'kim', password: PASSWORD } });
    const params = oauth.validateAuthResponse(as, client, driven.callback, state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.PrivateKeyJwt({ key: fileKey.privateKey, kid: fileKey.kid }), params, REDIRECT_URI, verifier, insecure);
    return oauth.processAuthorizationCodeResponse(as, client, response, { requireIdToken: true });
  }

  const authorizationParams = (clientId: string, challenge: string, state: string) => ({
    client_id: clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', state, code_challenge: challenge, code_challenge_method: 'S256',
  });

  test('JAR: a request object signed with the client\'s key is accepted at /auth, and the flow completes', async () => {
    const { verifier, challenge } = pkcePair();
    const state = oauth.generateRandomState();
    const request = await oauth.issueRequestObject(as, { client_id: fileClient }, authorizationParams(fileClient, challenge, state), { key: fileKey.privateKey, kid: fileKey.kid });
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({ client_id: fileClient, request }).toString();
    const tokens = await finish(fileClient, url.href, verifier, state);
    expect(oauth.getValidatedIdTokenClaims(tokens)?.aud).toBe(fileClient);
  });

  test('JAR: unsigned (alg none), signed by another key, or a request_uri at another host: refused', async () => {
    const { challenge } = pkcePair();
    const params = authorizationParams(fileClient, challenge, 'x');
    const claims = { ...params, iss: fileClient, aud: server.issuer };
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${b64({ alg: 'none' })}.${b64(claims)}.`;
    const stranger = await keyPair('ES256');
    const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: fileKey.kid }).sign(stranger.privateKey);
    const attempts: Array<Record<string, string>> = [
      { client_id: fileClient, request: unsigned },
      { client_id: fileClient, request: foreign },
      { client_id: fileClient, request_uri: 'https://attacker.example/request.jwt' },
    ];
    for (const query of attempts) {
      const res = await fetch(`${server.url}/auth?${new URLSearchParams(query)}`, { redirect: 'manual' });
      const location = res.headers.get('location');
      // refused: an error to the client (the redirect URI is known) or an error page, never the sign-in
      if (location) {
        expect(location.startsWith(REDIRECT_URI)).toBe(true);
        expect(new URL(location).searchParams.get('error')).toMatch(/^invalid_request_object$|^invalid_request_uri$|^request_uri_not_supported$|^invalid_request$/);
      } else {
        expect(res.status).toBe(400);
      }
    }
  });

  test('PAR: a pushed request (signed, as JAR) is accepted, and /auth with its request_uri completes the flow', async () => {
    const { verifier, challenge } = pkcePair();
    const state = oauth.generateRandomState();
    const client: oauth.Client = { client_id: parClient };
    const request = await oauth.issueRequestObject(as, client, authorizationParams(parClient, challenge, state), { key: fileKey.privateKey, kid: fileKey.kid });
    const pushed = await oauth.processPushedAuthorizationResponse(as, client,
      await oauth.pushedAuthorizationRequest(as, client, oauth.PrivateKeyJwt({ key: fileKey.privateKey, kid: fileKey.kid }), { request }, insecure));
    expect(pushed.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({ client_id: parClient, request_uri: pushed.request_uri }).toString();
    const tokens = await finish(parClient, url.href, verifier, state);
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  test('PAR: plain parameters pushed are accepted too; a request_uri is single use', async () => {
    const { verifier, challenge } = pkcePair();
    const state = oauth.generateRandomState();
    const client: oauth.Client = { client_id: parClient };
    const pushed = await oauth.processPushedAuthorizationResponse(as, client,
      await oauth.pushedAuthorizationRequest(as, client, oauth.PrivateKeyJwt({ key: fileKey.privateKey, kid: fileKey.kid }), authorizationParams(parClient, challenge, state), insecure));
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({ client_id: parClient, request_uri: pushed.request_uri }).toString();
    await finish(parClient, url.href, verifier, state);
    const again = await fetch(url, { redirect: 'manual' });
    expect(again.status).toBe(400);
  });

  // attack review (T170, T171): what another client, or a request object naming another client, gets from a pushed request
  test('a request_uri pushed by one client is refused for another; a pushed request cannot carry a request_uri; a request object naming another client is refused', async () => {
    const { challenge } = pkcePair();
    const client: oauth.Client = { client_id: parClient };
    const pushed = await oauth.processPushedAuthorizationResponse(as, client,
      await oauth.pushedAuthorizationRequest(as, client, oauth.PrivateKeyJwt({ key: fileKey.privateKey, kid: fileKey.kid }), authorizationParams(parClient, challenge, 'x'), insecure));
    const refusedBeforeSignIn = async (query: Record<string, string>) => {
      const res = await fetch(`${server.url}/auth?${new URLSearchParams(query)}`, { redirect: 'manual' });
      const location = res.headers.get('location');
      expect(location ?? '').not.toMatch(/\/interaction\//);
      if (location) expect(new URL(location).searchParams.get('error')).toMatch(/^invalid_request(_uri|_object)?$/);
      else expect(res.status).toBe(400);
    };
    await refusedBeforeSignIn({ client_id: fileClient, request_uri: pushed.request_uri });
    // a pushed request holding a request_uri (PAR §2.1: refused)
    const nested = await fetch(`${server.url}/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...authorizationParams(parClient, challenge, 'y'), request_uri: pushed.request_uri, client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(parClient, fileKey) }),
    });
    expect(nested.status).toBe(400);
    expect(((await nested.json()) as { error: string }).error).toMatch(/^invalid_request$|^request_uri_not_supported$/);
    // a request object signed by fileClient's key that names parClient inside, sent as fileClient's: its client_id must be the outer one
    const foreign = await new SignJWT({ ...authorizationParams(parClient, challenge, 'z'), iss: fileClient, aud: server.issuer })
      .setProtectedHeader({ alg: 'ES256', kid: fileKey.kid }).sign(fileKey.privateKey);
    await refusedBeforeSignIn({ client_id: fileClient, request: foreign });
  });

  test('a client required to use PAR is refused at /auth without it', async () => {
    const { challenge } = pkcePair();
    const res = await fetch(`${server.url}/auth?${new URLSearchParams(authorizationParams(parClient, challenge, 'x'))}`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.href.startsWith(REDIRECT_URI)).toBe(true);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/Pushed Authorization Request must be used/);
  });
});

describe('PAR (/request) counts toward the per-address authorization limit', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { rateLimits: { authorizationPerIp: { limit: 2, windowSeconds: 60 } } } });
  });
  afterAll(async () => { await server?.stop(); });

  test('a pushed request stands for an authorization request: the third from one address is 429, before the client is looked at', async () => {
    const { clientId } = await server.createClient({ name: 'spa', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'], public: true });
    const push = () => fetch(`${server.url}/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }),
    });
    expect((await push()).status).toBe(201);
    expect((await push()).status).toBe(201);
    const refused = await push();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toEqual(expect.any(String));
  });
});
