// Issue 14, "done means" 7: what /.well-known/openid-configuration advertises
// and no other test exercises, exercised here against a real server, each
// test named for the discovery field it proves. The table that ties every
// advertised value to its test is test/protocol/discovery.test.ts.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorizationRequest, authorize, driveAuthorization, postAsClient, tokenRequest, type ClientCredentials } from '../support/oauth.ts';
import { BrowserAgent } from '../support/browser-agent.ts';

const REDIRECT_URI = 'https://ledger.example.test/callback';
const API = 'https://ledger-api.example.test';
const USER = { username: 'ada', password: 'ada-has-a-long-password', email: 'ada@example.test', roles: ['editor'] };

describe('what discovery advertises, exercised', () => {
  let server: TestServer;
  let userId: string;
  let web: ClientCredentials;
  let pocket: ClientCredentials;
  let service: ClientCredentials;
  let agent: BrowserAgent; // the person's browser: signed in by the first test

  beforeAll(async () => {
    server = await startTestServer();
    userId = (await server.createUser(USER)).id;
    web = await server.createClient({
      name: 'Ledger', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI],
      scopes: ['openid', 'profile', 'email', 'roles', 'offline_access'],
      // its ID tokens carry sid (backchannel_logout_session_supported); never called here
      backchannelLogoutUri: 'https://ledger.example.test/backchannel-logout',
    });
    pocket = await server.createClient({ name: 'Pocket', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'], public: true });
    await server.services.resources.create({ identifier: API, name: 'Ledger API', scopes: ['ledger:read'] });
    service = await server.createClient({ name: 'Nightly batch', grantTypes: ['client_credentials'], scopes: ['ledger:read'] });
  });
  afterAll(async () => { await server?.stop(); });

  const redeem = (client: ClientCredentials, code: string, verifier: string) =>
    tokenRequest(server.url, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }, client);

  test('scopes_supported (openid profile email roles offline_access), claims_supported, claim_types_supported normal, id_token_signing_alg_values_supported RS256, response_mode query, the iss response parameter, refresh_token, introspection_endpoint, revocation_endpoint', async () => {
    const nonce = randomUUID();
    const flow = await authorize({
      baseUrl: server.url, clientId: web.clientId, redirectUri: REDIRECT_URI,
      scope: 'openid profile email roles offline_access', params: { prompt: 'consent', response_mode: 'query', nonce, max_age: '3600' }, // max_age: auth_time in the ID token
      user: USER,
    });
    agent = flow.agent;
    // authorization_response_iss_parameter_supported: the response names the issuer (RFC 9207)
    expect(flow.callback.searchParams.get('iss')).toBe(server.issuer);
    const tokens = await redeem(web, flow.code!, flow.verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.body.scope!.split(' ').sort()).toEqual(['email', 'offline_access', 'openid', 'profile', 'roles']);

    const jwks = createRemoteJWKSet(new URL('/jwks', server.url));
    const { payload: idToken, protectedHeader } = await jwtVerify(tokens.body.id_token!, jwks, { issuer: server.issuer, audience: web.clientId });
    expect(protectedHeader.alg).toBe('RS256');
    // claims of the ID token: sub, acr, amr, sid, auth_time, iss (the profile's go to userinfo: an access token was issued)
    expect(idToken).toMatchObject({ sub: userId, acr: 'pwd', amr: ['pwd'], sid: expect.any(String), auth_time: expect.any(Number), iss: server.issuer, nonce });

    const info = await fetch(new URL('/me', server.url), { headers: { authorization: `Bearer ${tokens.body.access_token}` } });
    expect(info.status).toBe(200);
    const claims = await info.json() as Record<string, unknown>;
    // profile: preferred_username name updated_at; email: email email_verified; roles: roles
    expect(claims).toEqual({
      sub: userId, preferred_username: 'ada', name: 'ada', updated_at: expect.any(Number),
      email: 'ada@example.test', email_verified: expect.any(Boolean), roles: ['editor'],
    });
    // claim_types_supported is "normal" only: no aggregated or distributed claims
    expect(Object.keys(claims).concat(Object.keys(idToken)).filter((k) => k === '_claim_names' || k === '_claim_sources')).toEqual([]);

    // offline_access gave a refresh token (grant_type refresh_token)
    const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token! }, web);
    expect(refreshed.status).toBe(200);

    const introspect = async (token: string) => JSON.parse((await postAsClient(`${server.url}/token/introspection`, { token }, web)).text) as { active: boolean };
    await expect(introspect(refreshed.body.access_token!)).resolves.toMatchObject({ active: true });
    expect((await postAsClient(`${server.url}/token/revocation`, { token: refreshed.body.access_token! }, web)).status).toBe(200);
    await expect(introspect(refreshed.body.access_token!)).resolves.toEqual({ active: false });
  });

  test('response_modes_supported fragment: the code comes back in the fragment', async () => {
    const { url, verifier } = authorizationRequest({ baseUrl: server.url, clientId: web.clientId, redirectUri: REDIRECT_URI, scope: 'openid', params: { response_mode: 'fragment' } });
    const { stoppedAt } = await agent.follow(url, {}, (location) => location.startsWith(REDIRECT_URI));
    const callback = new URL(stoppedAt!);
    expect(callback.search).toBe('');
    const fragment = new URLSearchParams(callback.hash.slice(1));
    expect(fragment.get('iss')).toBe(server.issuer);
    expect((await redeem(web, fragment.get('code')!, verifier)).status).toBe(200);
  });

  test('subject_types_supported public: the same sub for every client; token_endpoint_auth_methods_supported none (a public client)', async () => {
    const { url, verifier } = authorizationRequest({ baseUrl: server.url, clientId: pocket.clientId, redirectUri: REDIRECT_URI, scope: 'openid' });
    const flow = await driveAuthorization(agent, url, { redirectUri: REDIRECT_URI, user: USER });
    const tokens = await redeem(pocket, flow.code!, verifier); // client_id in the body, no secret: auth method none
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.id_token!).sub).toBe(userId);
  });

  test('claims_parameter_supported false: a claims parameter releases nothing', async () => {
    const claimsParameter = JSON.stringify({ id_token: { email: { essential: true } }, userinfo: { email: null, roles: null } });
    const { url, verifier } = authorizationRequest({ baseUrl: server.url, clientId: web.clientId, redirectUri: REDIRECT_URI, scope: 'openid', params: { claims: claimsParameter } });
    const flow = await driveAuthorization(agent, url, { redirectUri: REDIRECT_URI, user: USER });
    const tokens = await redeem(web, flow.code!, verifier);
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.id_token!)).not.toHaveProperty('email');
    const info = await (await fetch(new URL('/me', server.url), { headers: { authorization: `Bearer ${tokens.body.access_token}` } })).json();
    expect(info).toEqual({ sub: userId });
  });

  test('request_uri_parameter_supported false: a request_uri of the client\'s own is refused; pushed_authorization_request_endpoint: a pushed request is', async () => {
    const { url } = authorizationRequest({ baseUrl: server.url, clientId: web.clientId, redirectUri: REDIRECT_URI, scope: 'openid', params: { request_uri: 'https://ledger.example.test/request.jwt' } });
    const refused = await agent.follow(url, {}, (location) => location.startsWith(REDIRECT_URI));
    const error = refused.stoppedAt ? new URL(refused.stoppedAt).searchParams.get('error') : `page ${refused.response.status}`;
    expect(error).toBe('request_uri_not_supported');

    // PAR (RFC 9126): the client pushes its parameters, the browser carries only the request_uri
    const pushed = authorizationRequest({ baseUrl: server.url, clientId: web.clientId, redirectUri: REDIRECT_URI, scope: 'openid' });
    const params = Object.fromEntries(new URL(pushed.url).searchParams);
    const answer = await postAsClient(`${server.url}/request`, params, web);
    expect(answer.status).toBe(201);
    const { request_uri: requestUri } = JSON.parse(answer.text) as { request_uri: string };
    expect(requestUri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const carried = new URL('/auth', server.url);
    carried.searchParams.set('client_id', web.clientId);
    carried.searchParams.set('request_uri', requestUri);
    const flow = await driveAuthorization(agent, carried.href, { redirectUri: REDIRECT_URI, user: USER });
    expect(flow.callback.searchParams.get('state')).toBe(params.state);
    expect((await redeem(web, flow.code!, pushed.verifier)).status).toBe(200);
  });

  test('token_endpoint_auth_methods_supported client_secret_post, grant client_credentials', async () => {
    const answer = await postAsClient(`${server.url}/token`, { grant_type: 'client_credentials', resource: API, scope: 'ledger:read' }, service, { auth: 'post' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ token_type: 'Bearer', scope: 'ledger:read' });
  });

  test('dpop_signing_alg_values_supported Ed25519 and EdDSA (ES256: test/integration/dpop.test.ts)', async () => {
    for (const alg of ['Ed25519', 'EdDSA']) {
      const keys = await generateKeyPair('Ed25519');
      const jwk = await exportJWK(keys.publicKey);
      const proof = await new SignJWT({ htm: 'POST', htu: `${server.issuer}/token`, jti: randomUUID() })
        .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk })
        .setIssuedAt()
        .sign(keys.privateKey);
      const answer = await postAsClient(`${server.url}/token`, { grant_type: 'client_credentials', resource: API, scope: 'ledger:read' }, service, { headers: { dpop: proof } });
      expect({ alg, status: answer.status }).toEqual({ alg, status: 200 });
      const token = JSON.parse(answer.text) as { token_type: string; access_token: string };
      expect(token.token_type).toBe('DPoP');
      expect(decodeJwt(token.access_token).cnf).toEqual({ jkt: expect.any(String) });
    }
  });
});
