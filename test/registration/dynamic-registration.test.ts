// Issue 14, "done means" 5: dynamic client registration (RFC 7591/7592) with
// an initial access token from the real CLI against a real server, a real
// client library (openid-client v6's dynamicClientRegistration) registering
// with it, the policy refusing what a self-registered client may never be,
// the client reading and deleting its own registration, and a code flow with
// PKCE by the registered client. On the embedded default (PGlite in
// DATA_DIR) and on Postgres with Redis.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { codeFlow, refresh, REDIRECT_URI } from '../tokens/token-flows.ts';
import { driveAuthorization, tokenRequest } from '../support/oauth.ts';
import { BrowserAgent, parseForms } from '../support/browser-agent.ts';

const NOTES = 'https://notes-api.example.test';
const LEDGER = 'https://ledger-api.example.test';
const USER = { username: 'reggie', password: 'reggie-password-123' };
// openid-client refuses http:// issuers unless told; the server is on loopback
const insecureOnLoopback = [oidc.allowInsecureRequests];

interface Answer { status: number; headers: Headers; body: any }

async function send(url: string, method: string, options: { token?: string; body?: unknown; contentType?: string } = {}): Promise<Answer> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
    },
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, body };
}

const WEB_APP = {
  client_name: 'Notes for the web',
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code', 'refresh_token'],
  scope: 'openid profile offline_access notes:read',
};

describe.each([
  ['the embedded default (PGlite in DATA_DIR, token state in SQL)', 'file' as const, false],
  ['Postgres (token state in Redis)', 'postgres' as const, true],
])('dynamic registration with initial access tokens, on %s', (_name, database, redis) => {
  let server: TestServer;
  let admin: string;
  const register = (body: unknown, token?: string) => send(`${server.url}/reg`, 'POST', { token, body });
  /** An initial access token through the admin API (the CLI's own test is below). */
  const initialAccessToken = async (uses = 1) => (await call(server, admin, 'POST', '/registration-tokens', { uses })).body.initial_access_token as string;
  const tessera = (args: string[]) => runTesseraCli(args, adminCliEnv(server));

  beforeAll(async () => {
    server = await startTestServer({ database, redis, config: { dynamicRegistration: { mode: 'token' } } });
    admin = await adminToken(server);
    await server.createUser(USER);
    await server.services.resources.create({ identifier: NOTES, name: 'Notes API', scopes: ['notes:read', 'notes:write'], dynamicClients: true });
    // not open to clients that register themselves; one scope name is the same as the open resource's
    await server.services.resources.create({ identifier: LEDGER, name: 'Ledger API', scopes: ['ledger:read', 'notes:read'] });
  });
  afterAll(async () => { await server?.stop(); });

  test('a token from the CLI; openid-client registers with it; the client reads its registration, signs a person in with PKCE, and deletes its registration', async () => {
    const created = await tessera(['registration', 'tokens', 'create', '--uses', '1', '--ttl', '600', '--description', 'notes team', '--json']);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.json).toMatchObject({ id: expect.stringMatching(/^iat_/), uses: 1, uses_left: 1, description: 'notes team', initial_access_token: expect.any(String) });
    const token = created.json.initial_access_token as string;
    // the list never shows a token's value
    const listed = await tessera(['registration', 'tokens', 'list', '--json']);
    expect(listed.json.items).toEqual(expect.arrayContaining([expect.objectContaining({ id: created.json.id, uses_left: 1 })]));
    expect(listed.stdout).not.toContain(token);

    const config = await oidc.dynamicClientRegistration(new URL(server.issuer), { ...WEB_APP }, undefined, { initialAccessToken: token, execute: insecureOnLoopback });
    const metadata = config.clientMetadata() as Record<string, any>;
    expect(metadata).toMatchObject({
      client_id: expect.any(String), client_secret: expect.any(String), client_secret_expires_at: 0,
      registration_access_token: expect.any(String), registration_client_uri: `${server.issuer}/reg/${encodeURIComponent(metadata.client_id)}`,
      client_name: 'Notes for the web', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', application_type: 'web',
      scope: 'openid profile offline_access notes:read',
    });
    const client = { clientId: metadata.client_id as string, clientSecret: metadata.client_secret as string };

    // a one-use token is spent
    const again = await register(WEB_APP, token);
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_token');
    expect((await tessera(['registration', 'tokens', 'list', '--json'])).json.items).toEqual(expect.arrayContaining([expect.objectContaining({ id: created.json.id, uses_left: 0 })]));

    // RFC 7592 read: its own registration, never a secret or a digest
    const read = await send(metadata.registration_client_uri, 'GET', { token: metadata.registration_access_token });
    expect(read.status).toBe(200);
    expect(read.headers.get('cache-control')).toBe('no-store');
    expect(read.body).toMatchObject({ client_id: client.clientId, client_name: 'Notes for the web', redirect_uris: [REDIRECT_URI], scope: 'openid profile offline_access notes:read' });
    expect(read.body).not.toHaveProperty('client_secret');
    expect(JSON.stringify(read.body)).not.toContain(metadata.registration_access_token);

    // the admin sees it as dynamically registered, by the token's id
    const shown = await call(server, admin, 'GET', `/clients/${encodeURIComponent(client.clientId)}`);
    expect(shown.body).toMatchObject({ dynamically_registered: true, registered_by: created.json.id, first_party: false, scopes: ['openid', 'profile', 'offline_access', 'notes:read'] });
    const dynamicOnly = await call(server, admin, 'GET', '/clients?dynamic=true&limit=200');
    expect(dynamicOnly.body.items.map((c: { client_id: string }) => c.client_id)).toContain(client.clientId);
    expect(dynamicOnly.body.items.every((c: { dynamically_registered: boolean }) => c.dynamically_registered)).toBe(true);
    const byAdmins = await call(server, admin, 'GET', '/clients?dynamic=false&limit=200');
    expect(byAdmins.body.items.map((c: { client_id: string }) => c.client_id)).not.toContain(client.clientId);

    // the registered client, with the configuration openid-client made at registration: authorization
    // code with PKCE through the real sign-in and consent pages, for the resource open to such clients
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authorizationUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid offline_access notes:read', resource: NOTES, prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state,
    });
    const { pages, html, callback } = await driveAuthorization(new BrowserAgent(), authorizationUrl.href, { redirectUri: REDIRECT_URI, user: USER });
    expect(pages).toEqual(['login', 'consent']);
    // a client that registered itself is never first party: the person is asked, and sees the name it chose
    expect(html[1]).toContain('Notes for the web');
    // T149: …and is told the name is unchecked, and where the answer goes (the registered redirect URI's host)
    expect(html[1]).toContain('This application registered itself with this server');
    expect(html[1]).toContain(`you go to <strong>${new URL(REDIRECT_URI).host}</strong>`);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true }, { resource: NOTES });
    expect(tokens.access_token).toEqual(expect.any(String));
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.scope).toContain('notes:read');
    expect(tokens.claims()?.aud).toBe(client.clientId);
    // a resource without dynamic_clients: no token, though it declares a scope of the same name
    // (answered on Tessera's page, not at the redirect URI: the client registered itself, T151)
    const ledger = await fetch(oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid notes:read', resource: LEDGER,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }), { redirect: 'manual' });
    expect([ledger.status, ledger.headers.get('location')]).toEqual([400, null]);
    expect(await ledger.text()).toContain('<code>invalid_target</code>');

    // RFC 7592 delete: the registration goes, and with it the grants and what they issued
    expect((await server.tokenState.grants.ofClient(client.clientId)).length).toBeGreaterThan(0);
    const deleted = await send(metadata.registration_client_uri, 'DELETE', { token: metadata.registration_access_token });
    expect(deleted.status).toBe(204);
    expect((await send(metadata.registration_client_uri, 'GET', { token: metadata.registration_access_token })).status).toBe(401);
    expect((await call(server, admin, 'GET', `/clients/${encodeURIComponent(client.clientId)}`)).status).toBe(404);
    expect((await refresh(server.url, client, tokens.refresh_token!)).body.error).toBe('invalid_client');
    expect(await server.tokenState.grants.ofClient(client.clientId)).toEqual([]);

    const events = await server.services.audit.list({ subjects: [client.clientId], limit: 20 });
    expect(events.map((e) => [e.type, e.actor])).toEqual(expect.arrayContaining([
      ['client.registered', created.json.id], ['client.registration_deleted', client.clientId],
    ]));
  });

  test('the policy: admin, first_party, the password grant, foreign scopes, http redirect URIs and software statements are refused, naming them', async () => {
    const token = await initialAccessToken(50);
    const before = (await call(server, admin, 'GET', '/clients?dynamic=true&limit=200')).body.items.length;
    const cases: Array<[string, unknown, string, RegExp]> = [
      ['the admin scope', { ...WEB_APP, scope: 'openid admin' }, 'invalid_client_metadata', /"admin" is never given/],
      ['first_party', { ...WEB_APP, first_party: true }, 'invalid_client_metadata', /first_party is set by an administrator only/],
      ['require_mfa off or on', { ...WEB_APP, require_mfa: false }, 'invalid_client_metadata', /require_mfa is set by an administrator only/],
      ['introspection rights', { ...WEB_APP, introspect_for: [NOTES] }, 'invalid_client_metadata', /introspect_for is set by an administrator only/],
      ['token exchange audiences', { ...WEB_APP, token_exchange_audiences: [NOTES] }, 'invalid_client_metadata', /token_exchange_audiences is set by an administrator only/],
      ['the password grant', { ...WEB_APP, grant_types: ['authorization_code', 'password'] }, 'invalid_client_metadata', /password grant is only for first-party clients/],
      ['client_credentials (not in the policy)', { ...WEB_APP, grant_types: ['client_credentials'], redirect_uris: undefined }, 'invalid_client_metadata', /"client_credentials" is not open/],
      ['the implicit flow', { ...WEB_APP, response_types: ['code id_token'] }, 'invalid_client_metadata', /response_types must be \["code"\]/],
      ['a scope of a resource not open to dynamic clients', { ...WEB_APP, scope: 'openid ledger:read' }, 'invalid_client_metadata', /"ledger:read" is not offered/],
      ['a scope nobody offers', { ...WEB_APP, scope: 'openid everything' }, 'invalid_client_metadata', /"everything" is not offered/],
      ['private_key_jwt', { ...WEB_APP, token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata', /"private_key_jwt" is not supported/],
      ['a chosen secret', { ...WEB_APP, client_secret: 'my own secret' }, 'invalid_client_metadata', /chosen by the server/],
      ['a native app with a secret (the default method)', { ...WEB_APP, application_type: 'native', redirect_uris: ['http://127.0.0.1/cb'] }, 'invalid_client_metadata', /a native app is a public client/],
      ['http for a web application', { ...WEB_APP, redirect_uris: ['http://app.example.test/cb'] }, 'invalid_redirect_uri', /not https/],
      ['a loopback http URI for a web application', { ...WEB_APP, redirect_uris: ['http://127.0.0.1:4000/cb'] }, 'invalid_redirect_uri', /not https/],
      ['a fragment', { ...WEB_APP, redirect_uris: ['https://app.example.test/cb#x'] }, 'invalid_redirect_uri', /fragment/],
      ['a javascript: URI, even for a native app', { ...WEB_APP, application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri', /scheme no redirect may use/],
      ['http at another host for a native app', { ...WEB_APP, application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://evil.example.test/cb'] }, 'invalid_redirect_uri', /only for a loopback address/],
      // T148: stored as written, followed as a browser parses it: what an admin or the audit log shows must be where codes go
      ['a backslash a browser reads as a slash (the host is evil.example.test)', { ...WEB_APP, redirect_uris: ['https://evil.example.test\\@app.example.test/cb'] }, 'invalid_redirect_uri', /register "https:\/\/evil\.example\.test\/@app\.example\.test\/cb"/],
      ['a look-alike host in Unicode (Cyrillic а)', { ...WEB_APP, redirect_uris: ['https://\u0430pp.example.test/cb'] }, 'invalid_redirect_uri', /register "https:\/\/xn--pp-6kc\.example\.test\/cb"/],
      ['https: without its slashes', { ...WEB_APP, redirect_uris: ['https:app.example.test/cb'] }, 'invalid_redirect_uri', /not written as a URL parser reads it/],
      ['a percent-encoded host', { ...WEB_APP, redirect_uris: ['https://%61pp.example.test/cb'] }, 'invalid_redirect_uri', /not written as a URL parser reads it/],
      ['a loopback address in short form for a native app', { ...WEB_APP, application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.1/cb'] }, 'invalid_redirect_uri', /register "http:\/\/127\.0\.0\.1\/cb"/],
      ['a post-logout URI with a backslash', { ...WEB_APP, post_logout_redirect_uris: ['https://evil.example.test\\@app.example.test/'] }, 'invalid_client_metadata', /not written as a URL parser reads it/],
      ['no redirect URI with the code grant', { ...WEB_APP, redirect_uris: [] }, 'invalid_redirect_uri', /redirect_uris are required/],
      ['a software statement', { ...WEB_APP, software_statement: 'eyJhbGciOiJub25lIn0.e30.' }, 'invalid_software_statement', /not supported/],
      ['a name with a bidirectional override, which reverses the text around it on the consent page (T150)', { ...WEB_APP, client_name: '\u202eknab ruoY' }, 'invalid_client_metadata', /client_name must match pattern/],
      ['a name with a bidirectional isolate (T150)', { ...WEB_APP, client_name: 'Notes \u2067for the web' }, 'invalid_client_metadata', /client_name must match pattern/],
      ['a list where a string belongs', { ...WEB_APP, client_name: ['x'] }, 'invalid_client_metadata', /client_name must be string/],
      ['too many redirect URIs', { ...WEB_APP, redirect_uris: Array.from({ length: 21 }, (_, i) => `https://app.example.test/${i}`) }, 'invalid_client_metadata', /redirect_uris must NOT have more than 20 items/],
    ];
    for (const [what, body, error, description] of cases) {
      const answer = await register(body, token);
      expect({ what, status: answer.status, error: answer.body?.error }).toEqual({ what, status: 400, error });
      expect({ what, description: answer.body.error_description }).toEqual({ what, description: expect.stringMatching(description) });
      expect({ what, cacheControl: answer.headers.get('cache-control') }).toEqual({ what, cacheControl: 'no-store' });
    }
    // nothing was registered, and no use was taken by a refusal
    expect((await call(server, admin, 'GET', '/clients?dynamic=true&limit=200')).body.items.length).toBe(before);
    const tokens = (await call(server, admin, 'GET', '/registration-tokens?limit=200')).body.items as Array<{ uses: number; uses_left: number }>;
    expect(tokens.some((t) => t.uses === 50 && t.uses_left === 50)).toBe(true);
    // what the policy allows: a native app on loopback http and a private-use scheme, public, with PKCE
    const native = await register({ client_name: 'Notes desktop', application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:51000/cb', 'test.example.notes:/cb'], scope: 'openid' }, token);
    expect(native.status).toBe(201);
    expect(native.body).toMatchObject({ application_type: 'native', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] });
    expect(native.body).not.toHaveProperty('client_secret');
    // a request without scope gets none (absent means nothing); unknown metadata is ignored and not stored
    const bare = await register({ redirect_uris: [REDIRECT_URI], logo_uri: 'https://app.example.test/logo.png', dpop_bound_access_tokens: false }, token);
    expect(bare.status).toBe(201);
    expect(bare.body).not.toHaveProperty('scope');
    expect(bare.body).not.toHaveProperty('logo_uri');
    expect(bare.body.client_name).toBe('Unnamed application');
    await server.services.audit.flush();
    const refused = await server.services.audit.list({ type: 'client.registration_refused', limit: 100 });
    expect(refused.length).toBeGreaterThan(0);
    expect(JSON.stringify(refused)).not.toContain(token);
  });

  test('an authorization error for a client that registered itself is a page naming where it would go, not a redirect: no open redirector (RFC 9700 §4.11.2, T151)', async () => {
    const registered = await register({ ...WEB_APP, redirect_uris: ['https://phish.example.test/land'] }, await initialAccessToken());
    expect(registered.status).toBe(201);
    const byAdmin = await server.createClient({ name: 'Admin-made app', grantTypes: ['authorization_code'], redirectUris: ['https://phish.example.test/land'], scopes: ['openid'] });
    const authorizationUrl = (clientId: string, params: Record<string, string>) => `${server.url}/auth?${new URLSearchParams({
      client_id: clientId, redirect_uri: 'https://phish.example.test/land', response_type: 'code', scope: 'openid', state: 'st4te',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', ...params,
    })}`;
    // no person, no page seen: prompt=none (login_required), a scope outside the allow-list, a missing PKCE challenge, form_post
    const errors: Array<[Record<string, string>, string]> = [
      [{ prompt: 'none' }, 'login_required'],
      [{ scope: 'openid email' }, 'invalid_scope'],
      [{ code_challenge: '', code_challenge_method: '' }, 'invalid_request'],
      [{ prompt: 'none', response_mode: 'form_post' }, 'login_required'],
    ];
    for (const [params, error] of errors) {
      const answer = await fetch(authorizationUrl(registered.body.client_id, params), { redirect: 'manual' });
      const text = await answer.text();
      expect({ params, status: answer.status, location: answer.headers.get('location') }).toEqual({ params, status: 400, location: null });
      expect(text).toContain('so you were not sent on to it automatically');
      expect(text).toContain(`<code>${error}</code>`);
      expect(text).not.toContain('<form');
      if (params.response_mode !== 'form_post') expect(text).toContain('Return to phish.example.test</a>');
    }
    // a client an administrator registered: the error goes to its redirect URI as RFC 6749 §4.1.2.1 says
    const trusted = await fetch(authorizationUrl(byAdmin.clientId, { prompt: 'none' }), { redirect: 'manual' });
    expect(trusted.status).toBe(303);
    expect(new URL(trusted.headers.get('location')!).searchParams.get('error')).toBe('login_required');
    // after the person saw the pages, the answer goes to the client: Deny at consent is access_denied at the redirect URI
    const denied = await driveAuthorization(new BrowserAgent(), authorizationUrl(registered.body.client_id, {}), { redirectUri: 'https://phish.example.test/land', user: USER, consent: 'Deny' });
    expect(denied.pages).toEqual(['login', 'consent']);
    expect(denied.callback.searchParams.get('error')).toBe('access_denied');
  });

  test('/session/end does not send people to a self-registered post_logout_redirect_uri without an id_token_hint; with the hint it does (T178)', async () => {
    const registered = await register({ ...WEB_APP, scope: 'openid', post_logout_redirect_uris: ['https://phish.example.test/bye'] }, await initialAccessToken());
    expect(registered.status).toBe(201);
    const client = { clientId: registered.body.client_id as string, clientSecret: registered.body.client_secret as string };
    /** /session/end as a browser goes through it: the page (which submits itself without a session, or "Sign out"), then where it leads */
    const logout = async (agent: BrowserAgent, params: Record<string, string>) => {
      const page = await agent.request(`${server.url}/session/end?${new URLSearchParams(params)}`);
      expect(page.status).toBe(200);
      const forms = parseForms(page.text);
      const form = forms.find((f) => f.buttons.includes('Sign out')) ?? forms[0];
      const { response } = await agent.submit(page, form, {}, (location) => !location.startsWith(server.url));
      return response.headers.get('location');
    };
    // a stranger's link, no session: the logout submits itself; the person stays on Tessera
    const bounced = await logout(new BrowserAgent(), { client_id: client.clientId, post_logout_redirect_uri: 'https://phish.example.test/bye' });
    expect(bounced ?? '').not.toContain('phish.example.test');
    // the client's own sign-out, with the ID token it got for the person: back at its registered URI
    const tokens = await codeFlow({ baseUrl: server.url, client, user: USER, scope: 'openid' });
    const back = await logout(tokens.agent, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://phish.example.test/bye' });
    expect(back).toBe('https://phish.example.test/bye');
  });

  test('without a token, with a wrong, revoked or spent one: 401 invalid_token (RFC 6750), and nothing is registered', async () => {
    const before = (await call(server, admin, 'GET', '/clients?dynamic=true&limit=200')).body.items.length;
    const none = await register(WEB_APP);
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('invalid_token');
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await register(WEB_APP, 'not-a-token');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    const created = await call(server, admin, 'POST', '/registration-tokens', { uses: 5 });
    expect((await call(server, admin, 'DELETE', `/registration-tokens/${created.body.id}`)).status).toBe(204);
    const revoked = await register(WEB_APP, created.body.initial_access_token);
    expect(revoked.status).toBe(401);
    // the registration endpoint takes JSON only (RFC 7591 §3.1)
    const form = await send(`${server.url}/reg`, 'POST', { token: await initialAccessToken(), body: 'client_name=x', contentType: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(form.body.error).toBe('invalid_request');
    expect((await call(server, admin, 'GET', '/clients?dynamic=true&limit=200')).body.items.length).toBe(before);
  });

  test('huge and deep metadata: 413 beyond http.maxBodyBytes, 400 beyond four levels, nothing registered and no use taken', async () => {
    const token = await initialAccessToken(1);
    const huge = await register({ ...WEB_APP, client_name: 'huge', padding: 'x'.repeat(server.config.http.maxBodyBytes) }, token);
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe('invalid_request');
    let deep: unknown = 'x';
    for (let i = 0; i < 10; i += 1) deep = [deep];
    const nested = await register({ ...WEB_APP, client_name: 'deep', extra: deep }, token);
    expect(nested.status).toBe(400);
    expect(nested.body.error).toBe('invalid_client_metadata');
    const control = await register({ ...WEB_APP, client_name: 'bell\u0007' }, token);
    expect(control.status).toBe(400);
    // the token's one use is still there
    expect((await register({ ...WEB_APP, client_name: 'after the refusals' }, token)).status).toBe(201);
  });

  test('N simultaneous registrations with a one-use token make exactly one client', async () => {
    const token = await initialAccessToken(1);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => register({ ...WEB_APP, client_name: `racer ${i}` }, token)));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 401, 401, 401, 401, 401, 401, 401]);
    const racers = (await call(server, admin, 'GET', '/clients?dynamic=true&limit=200')).body.items.filter((c: { name: string }) => c.name.startsWith('racer '));
    expect(racers).toHaveLength(1);
  });

  test('PUT replaces the registration under the same policy and rotates the registration access token; a token manages only its own client', async () => {
    const token = await initialAccessToken(2);
    const first = (await register(WEB_APP, token)).body;
    const second = (await register({ ...WEB_APP, client_name: 'Other app' }, token)).body;
    // another client's registration access token: refused, as if the client did not exist
    const foreign = await send(first.registration_client_uri, 'GET', { token: second.registration_access_token });
    expect(foreign.status).toBe(401);
    expect(foreign.body.error).toBe('invalid_token');
    const missing = await send(`${server.url}/reg/no-such-client`, 'GET', { token: second.registration_access_token });
    expect([missing.status, missing.body]).toEqual([foreign.status, foreign.body]);
    // the policy holds on update: no admin, no first party
    const escalate = await send(first.registration_client_uri, 'PUT', { token: first.registration_access_token, body: { ...WEB_APP, client_id: first.client_id, scope: 'openid admin' } });
    expect(escalate.status).toBe(400);
    expect(escalate.body.error).toBe('invalid_client_metadata');
    const notOwn = await send(first.registration_client_uri, 'PUT', { token: first.registration_access_token, body: { ...WEB_APP, client_id: second.client_id } });
    expect(notOwn.status).toBe(400);
    const wrongSecret = await send(first.registration_client_uri, 'PUT', { token: first.registration_access_token, body: { ...WEB_APP, client_id: first.client_id, client_secret: 'a secret of my choosing' } });
    expect(wrongSecret.status).toBe(400);
    const replaced = await send(first.registration_client_uri, 'PUT', {
      token: first.registration_access_token,
      body: { client_id: first.client_id, client_secret: first.client_secret, client_name: 'Notes, renamed', redirect_uris: ['https://app.example.test/other'], scope: 'openid' },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ client_id: first.client_id, client_name: 'Notes, renamed', redirect_uris: ['https://app.example.test/other'], grant_types: ['authorization_code'], scope: 'openid' });
    expect(replaced.body.registration_access_token).toEqual(expect.any(String));
    expect(replaced.body.registration_access_token).not.toBe(first.registration_access_token);
    // the old token stopped working, the new one works; the secret is the same
    expect((await send(first.registration_client_uri, 'GET', { token: first.registration_access_token })).status).toBe(401);
    expect((await send(first.registration_client_uri, 'GET', { token: replaced.body.registration_access_token })).status).toBe(200);
    const secretStillWorks = await tokenRequest(server.url, { grant_type: 'authorization_code', code: 'nothing', redirect_uri: 'https://app.example.test/other', code_verifier: 'x'.repeat(43) }, { clientId: first.client_id, clientSecret: first.client_secret });
    expect(secretStillWorks.body.error).toBe('invalid_grant');
    const updated = await server.services.audit.list({ type: 'client.registration_updated', subjects: [first.client_id], limit: 5 });
    expect(updated.map((e) => e.actor)).toEqual([first.client_id]);
  });
});

describe('open registration: anyone, rate limited per address and capped', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { dynamicRegistration: { mode: 'open', maxClients: 3 }, rateLimits: { registrationPerIp: { limit: 5, windowSeconds: 3600 } } } });
  });
  afterAll(async () => { await server?.stop(); });

  test('no token needed; the cap refuses the client beyond it; the per-address limit answers 429', async () => {
    const register = (name: string) => send(`${server.url}/reg`, 'POST', { body: { client_name: name, redirect_uris: [REDIRECT_URI], scope: 'openid' } });
    const made = [await register('open 1'), await register('open 2'), await register('open 3')];
    expect(made.map((a) => a.status)).toEqual([201, 201, 201]);
    const client = await server.services.clients.find(made[0].body.client_id);
    expect(client).toMatchObject({ dynamicallyRegistered: true, registeredBy: 'anonymous', firstParty: false });
    const full = await register('open 4');
    expect(full.status).toBe(403);
    expect(full.body.error).toBe('access_denied');
    expect(await server.services.clients.countDynamic()).toBe(3);
    // the sixth request from this address in the window
    await register('open 5');
    const limited = await register('open 6');
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('temporarily_unavailable');
    expect(limited.headers.get('retry-after')).toEqual(expect.any(String));
  });
});

describe('discovery and the endpoint follow DYNAMIC_REGISTRATION', () => {
  test('off (the default): no registration_endpoint, /reg is not there', async () => {
    const server = await startTestServer();
    try {
      expect(server.config.dynamicRegistration.mode).toBe('off');
      for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
        const discovery = await (await fetch(`${server.url}${path}`)).json() as Record<string, unknown>;
        expect(discovery).not.toHaveProperty('registration_endpoint');
      }
      const answer = await send(`${server.url}/reg`, 'POST', { body: WEB_APP });
      expect(answer.status).not.toBe(201);
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect((await send(`${server.url}/reg/anything`, 'GET')).status).toBe(404);
    } finally {
      await server.stop();
    }
  });

  test('token: both discovery documents name /reg', async () => {
    const server = await startTestServer({ config: { dynamicRegistration: { mode: 'token' } } });
    try {
      for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
        const discovery = await (await fetch(`${server.url}${path}`)).json() as Record<string, unknown>;
        expect(discovery.registration_endpoint).toBe(`${server.issuer}/reg`);
      }
    } finally {
      await server.stop();
    }
  });
});
