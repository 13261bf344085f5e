// Issue 14, "done means" 6: an MCP-style client that knows only an API's URL.
// The example API (examples/protected-api, started as a process) publishes its
// RFC 9728 metadata; Tessera (`node src/main.ts serve`) serves RFC 8414
// metadata and accepts a client ID metadata document the test serves over
// https (a test CA, NODE_EXTRA_CA_CERTS); the client discovers everything from
// the API's 401, runs the code flow with PKCE and `resource` through the
// sign-in and consent pages, and calls the API with the token. Documents on
// private addresses are refused unless allowed.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { createCertificateAuthority, type CertificateAuthority } from '../support/certificate-authority.ts';
import { freePort, spawnTessera, waitForOk, type TesseraProcess } from '../support/process.ts';
import { runTesseraCli } from '../support/cli.ts';
import { BrowserAgent } from '../support/browser-agent.ts';
import { authorizationRequest, driveAuthorization, tokenRequest } from '../support/oauth.ts';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../support/chromium.ts';
import { startExampleApi, type ExampleApi } from '../support/example-api.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

const PASSWORD = 'a long and unguessable passphrase';
const REDIRECT_URI = 'https://mcp-client.example.test/callback';
const STARTUP_MS = 60_000;

interface Tessera { proc: TesseraProcess; issuer: string; keysDir: string }

describe('an MCP client, a protected API and Tessera, as processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-mcp-'));
  let ca: CertificateAuthority;
  let documents: Server;
  let documentBase: string;
  /** Tessera with CLIENT_METADATA_ALLOW_LOOPBACK=true (the test's document server is on loopback) */
  let tessera: Tessera;
  /** the same, without the loopback allowance */
  let strict: Tessera;
  let api: ExampleApi | undefined;
  let apiUrl: string;
  const fetchedDocuments: string[] = [];

  /** What the test's document server answers, by path. */
  const answers = new Map<string, { status: number; headers?: Record<string, string>; body?: string }>();
  const serveDocument = (path: string, document: Record<string, unknown>, headers: Record<string, string> = {}) =>
    answers.set(path, { status: 200, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(document) });

  /** The client of the main flow: its document claims what Tessera does not grant to such a client. */
  const serveNotesAssistant = (clientId: string) =>
    serveDocument('/clients/notes-assistant.json', {
      client_id: clientId,
      client_name: 'Notes Assistant',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      // claims Tessera does not grant to such a client, whatever the document says
      first_party: true,
      allowed_scopes: ['admin', 'ledger:read'],
    }, { 'cache-control': 'max-age=600' });

  async function startTessera(name: string, env: Record<string, string>): Promise<Tessera> {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const keysDir = join(dir, `${name}-keys`);
    const proc = spawnTessera(['serve'], {
      PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, DATA_DIR: join(dir, `${name}-data`), KEYS_DIR: keysDir, LOG_LEVEL: 'info',
      CLIENT_ID_METADATA_DOCUMENTS: 'true',
      // the test CA, for the document server's certificate
      NODE_EXTRA_CA_CERTS: ca.caFile,
      ...env,
    }, port);
    await waitForOk(`${issuer}/.well-known/oauth-authorization-server`, proc, STARTUP_MS);
    return { proc, issuer, keysDir };
  }

  const cli = (server: Tessera, args: string[], stdin = '') =>
    runTesseraCli(args, { PATH: process.env.PATH, ISSUER: server.issuer, KEYS_DIR: server.keysDir, LOG_LEVEL: 'silent' }, stdin);

  beforeAll(async () => {
    ca = await createCertificateAuthority();
    const certificate = await ca.issue('documents', '/CN=localhost', ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
    documents = createHttpsServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
      fetchedDocuments.push(req.url ?? '');
      const answer = answers.get(req.url ?? '');
      if (!answer) { res.writeHead(404).end(); return; }
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
    const documentPort = await freePort();
    await new Promise<void>((resolve) => documents.listen(documentPort, '127.0.0.1', resolve));
    documentBase = `https://localhost:${documentPort}`;

    [tessera, strict] = await Promise.all([
      startTessera('dev', { CLIENT_METADATA_ALLOW_LOOPBACK: 'true' }),
      startTessera('strict', {}),
    ]);

    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}/notes`;
    // the API is a resource server that accepts clients nobody registered by hand
    const resource = await cli(tessera, ['resources', 'create', '--identifier', apiUrl, '--name', 'Notes API', '--scopes', 'notes:read notes:write', '--dynamic-clients', '--json']);
    expect(resource.code).toBe(0);
    const closed = await cli(tessera, ['resources', 'create', '--identifier', 'https://ledger.example.test', '--scopes', 'ledger:read', '--json']);
    expect(closed.json).toMatchObject({ dynamic_clients: false });
    const user = await cli(tessera, ['users', 'create', '--username', 'ada', '--password-stdin', '--json'], `${PASSWORD}\n`);
    expect(user.code).toBe(0);

    api = await startExampleApi({ port: apiPort, issuer: tessera.issuer, resource: apiUrl, requiredScopes: 'notes:read', startupMs: STARTUP_MS });
  }, 3 * STARTUP_MS);

  afterAll(async () => {
    api?.stop();
    await Promise.all([tessera?.proc.stop(), strict?.proc.stop()]);
    await new Promise((resolve) => documents?.close(resolve));
    ca?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** GET /auth with a client_id and what the pages answer (no redirect followed) */
  async function authorizationWith(server: Tessera, clientId: string, params: Record<string, string> = {}) {
    const { url } = authorizationRequest({ baseUrl: server.issuer, clientId, redirectUri: REDIRECT_URI, scope: 'notes:read', params: { resource: apiUrl, ...params } });
    return new BrowserAgent().request(url);
  }

  test('from the API\'s 401 to a 200: RFC 9728 metadata, RFC 8414 metadata, a client ID metadata document, code + PKCE + resource', async () => {
    const clientId = `${documentBase}/clients/notes-assistant.json`;
    serveNotesAssistant(clientId);

    // 1. the client knows only the API's URL: its 401 names the metadata
    const first = await fetch(apiUrl);
    expect(first.status).toBe(401);
    const challenge = first.headers.get('www-authenticate')!;
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).not.toMatch(/error=/); // no token, no error code (RFC 6750 §3.1)
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)![1];

    // 2. RFC 9728 protected-resource metadata names Tessera
    const resourceMetadata = await (await fetch(metadataUrl)).json() as Record<string, unknown>;
    expect(resourceMetadata).toMatchObject({
      resource: apiUrl, authorization_servers: [tessera.issuer], scopes_supported: ['notes:read'], bearer_methods_supported: ['header'],
    });

    // 3. RFC 8414 authorization server metadata, as a generic OAuth client library reads it
    const issuer = new URL((resourceMetadata.authorization_servers as string[])[0]);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }));
    expect(as.issuer).toBe(tessera.issuer);
    expect(as.code_challenge_methods_supported).toEqual(['S256']);
    expect(as.client_id_metadata_document_supported).toBe(true);
    expect(as.response_types_supported).toEqual(['code']);
    expect(as.token_endpoint_auth_methods_supported).toContain('none');
    // the same document as openid-configuration (RFC 8414 §3: one set of metadata)
    const openid = await (await fetch(`${tessera.issuer}/.well-known/openid-configuration`)).json();
    expect(await (await fetch(`${tessera.issuer}/.well-known/oauth-authorization-server`)).json()).toEqual(openid);

    // 4. the code flow with PKCE and resource, through the sign-in and consent pages
    const client: oauth.Client = { client_id: clientId };
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const authorizationUrl = new URL(as.authorization_endpoint!);
    for (const [key, value] of Object.entries({
      client_id: clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'notes:read', resource: resourceMetadata.resource as string,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state,
    })) authorizationUrl.searchParams.set(key, value);
    const flow = await driveAuthorization(new BrowserAgent(), authorizationUrl.href, { redirectUri: REDIRECT_URI, user: { username: 'ada', password: PASSWORD } });
    // never first party: consent is asked, and the page names the document's host, not only its self-chosen name
    expect(flow.pages).toEqual(['login', 'consent']);
    expect(flow.html[1]).toContain(`<strong>${new URL(documentBase).host}</strong>`);
    expect(flow.html[1]).toContain('It calls itself “Notes Assistant”');
    expect(flow.html[0]).toContain(`Notes Assistant (${new URL(documentBase).host})`);
    expect(flow.html[1]).toContain('notes:read');

    const callbackParams = oauth.validateAuthResponse(as, client, flow.callback, state);
    const tokenAnswer = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), callbackParams, REDIRECT_URI, verifier, {
      additionalParameters: { resource: resourceMetadata.resource as string },
      [oauth.allowInsecureRequests]: true,
    });
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, tokenAnswer);
    expect(tokens.scope).toBe('notes:read');

    // 5. the API accepts the token
    const notes = await fetch(apiUrl, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(notes.status).toBe(200);
    expect(await notes.json()).toMatchObject({ client_id: clientId, scope: 'notes:read' });

    // a bad token: invalid_token, with the metadata again
    const forged = await fetch(apiUrl, { headers: { authorization: `Bearer ${tokens.access_token.slice(0, -4)}AAAA` } });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toMatch(/error="invalid_token".*resource_metadata="/);

    // the person's /account lists the app by its host (the document is not fetched for that page)
    const account = await flow.agent.follow(`${tessera.issuer}/account`);
    expect(account.response.status).toBe(200);
    expect(account.response.text).toContain(new URL(documentBase).host);
    expect(account.response.text).not.toContain('Notes Assistant');

    // the sign-out page names the host beside the name too
    const signOut = await flow.agent.request(`${tessera.issuer}/session/end?client_id=${encodeURIComponent(clientId)}`);
    expect(signOut.status).toBe(200);
    expect(signOut.text).toContain(`Notes Assistant (${new URL(documentBase).host})`);

    // the document was fetched once: cached within its max-age
    expect(fetchedDocuments.filter((path) => path === '/clients/notes-assistant.json')).toHaveLength(1);
  });

  test('in a real browser (headless Chromium): the consent page leads with the host, at desktop and phone width', async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const clientId = `${documentBase}/clients/notes-assistant.json`;
    serveNotesAssistant(clientId);
    const browser = await launchChromium();
    try {
      for (const [name, viewport] of Object.entries({ desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } })) {
        const page = await browser.newPage({ viewport });
        const { url } = authorizationRequest({ baseUrl: tessera.issuer, clientId, redirectUri: REDIRECT_URI, scope: 'notes:read', params: { resource: apiUrl } });
        await page.goto(url);
        await page.getByLabel('Username').fill('ada');
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.getByRole('button', { name: 'Allow' }).waitFor();
        await expect(page.getByText(`The application at ${new URL(documentBase).host} is asking`).isVisible()).resolves.toBe(true);
        await expect(page.getByRole('button', { name: 'Deny' }).isVisible()).resolves.toBe(true);
        const { scrollWidth, innerWidth } = await page.evaluate(
          '({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })',
        ) as { scrollWidth: number; innerWidth: number };
        expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
        await page.screenshot({ path: `${SCREENSHOTS}consent-metadata-document-${name}.png`, fullPage: true });
        await page.close();
      }
    } finally {
      await browser.close();
    }
  });

  test('the example API by introspection: insufficient_scope is a 403; a revoked grant is refused at once (the JWT check sees it only at expiry)', async () => {
    const clientId = `${documentBase}/clients/notes-assistant.json`;
    serveNotesAssistant(clientId);
    const introspector = await cli(tessera, ['clients', 'create', '--name', 'Notes API', '--grant-types', 'client_credentials', '--introspect-for', apiUrl, '--json']);
    expect(introspector.code).toBe(0);
    const port = await freePort();
    const byIntrospection = `http://127.0.0.1:${port}/notes`;
    const second = await startExampleApi({
      port, issuer: tessera.issuer, resource: apiUrl, requiredScopes: 'notes:read', startupMs: STARTUP_MS,
      env: { TOKEN_CHECK: 'introspection', INTROSPECTION_CLIENT_ID: introspector.json.client_id, INTROSPECTION_CLIENT_SECRET: introspector.json.client_secret },
    });
    try {
      const tokenFor = async (scope: string) => {
        const { url, verifier } = authorizationRequest({ baseUrl: tessera.issuer, clientId, redirectUri: REDIRECT_URI, scope, params: { resource: apiUrl } });
        const flow = await driveAuthorization(new BrowserAgent(), url, { redirectUri: REDIRECT_URI, user: { username: 'ada', password: PASSWORD } });
        const issued = await tokenRequest(tessera.issuer, { grant_type: 'authorization_code', code: flow.code!, redirect_uri: REDIRECT_URI, code_verifier: verifier, resource: apiUrl }, { clientId });
        expect(issued.status).toBe(200);
        return issued.body.access_token!;
      };
      const writeOnly = await tokenFor('notes:write');
      for (const url of [apiUrl, byIntrospection]) {
        const res = await fetch(url, { headers: { authorization: `Bearer ${writeOnly}` } });
        expect([url, res.status]).toEqual([url, 403]);
        expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="notes:read"/);
      }
      const reader = await tokenFor('notes:read');
      expect((await fetch(byIntrospection, { headers: { authorization: `Bearer ${reader}` } })).status).toBe(200);

      const revoked = await cli(tessera, ['grants', 'revoke', '--client', clientId, '--json']);
      expect(revoked.code).toBe(0);
      const refused = await fetch(byIntrospection, { headers: { authorization: `Bearer ${reader}` } });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      // the JWT check has no way to know before the token expires (README: choose introspection for that)
      expect((await fetch(apiUrl, { headers: { authorization: `Bearer ${reader}` } })).status).toBe(200);
    } finally {
      second.stop();
    }
  });

  // attack review: the example API checks what a token is, not only that Tessera signed it, and survives hostile headers
  test('a document named with bidirectional controls shows none (T179); the example API refuses an ID token, an unsigned (alg none) copy of a good token and malformed tokens, and keeps serving', async () => {
    const clientId = `${documentBase}/clients/hostile.json`;
    // T179: a name that would show the host after it reversed (U+202E) and break the line
    serveDocument('/clients/hostile.json', { client_id: clientId, client_name: 'Hostile\u202E\n<b>x</b>', redirect_uris: [REDIRECT_URI] });
    const { url, verifier } = authorizationRequest({ baseUrl: tessera.issuer, clientId, redirectUri: REDIRECT_URI, scope: 'openid notes:read', params: { resource: apiUrl } });
    const flow = await driveAuthorization(new BrowserAgent(), url, { redirectUri: REDIRECT_URI, user: { username: 'ada', password: PASSWORD } });
    expect(flow.pages).toEqual(['login', 'consent']);
    for (const page of flow.html) expect(page).not.toMatch(/[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/);
    expect(flow.html[1]).toContain('It calls itself “Hostile &lt;b&gt;x&lt;/b&gt;”');
    expect(flow.html[0]).toContain(`Hostile &lt;b&gt;x&lt;/b&gt; (${new URL(documentBase).host})`);
    const issued = await tokenRequest(tessera.issuer, { grant_type: 'authorization_code', code: flow.code!, redirect_uri: REDIRECT_URI, code_verifier: verifier, resource: apiUrl }, { clientId });
    expect(issued.status).toBe(200);
    const { access_token: accessToken, id_token: idToken } = issued.body as { access_token: string; id_token: string };
    expect(idToken).toEqual(expect.any(String));
    const [, payload] = accessToken.split('.');
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const attempts = [
      idToken, // signed by Tessera, but typ JWT and aud the client
      `${b64({ alg: 'none', typ: 'at+jwt' })}.${payload}.`, // the access token's claims, unsigned
      `${b64({ alg: 'HS256', typ: 'at+jwt' })}.${payload}.${accessToken.split('.')[2]}`,
      'e30.e30.', 'a.b.c', '....', `${'A'.repeat(8000)}.${'A'.repeat(8000)}.A`,
    ];
    for (const token of attempts) {
      const res = await fetch(apiUrl, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
    for (const authorization of ['Bearer', 'Bearer  x', 'Basic Zm9vOmJhcg==', `Bearer ${accessToken} extra`, 'Bearer "x"']) {
      expect((await fetch(apiUrl, { headers: { authorization } })).status).toBe(401);
    }
    expect((await fetch(apiUrl, { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(200);
  });

  test('a native MCP client: a loopback redirect URI, its port chosen at run time (RFC 8252 §7.3); a document with an http redirect URI to another machine is refused', async () => {
    const clientId = `${documentBase}/clients/desktop.json`;
    serveDocument('/clients/desktop.json', { client_id: clientId, client_name: 'Desktop', application_type: 'native', redirect_uris: ['http://127.0.0.1/callback'] });
    const redirectUri = 'http://127.0.0.1:49152/callback';
    const { url, verifier } = authorizationRequest({ baseUrl: tessera.issuer, clientId, redirectUri, scope: 'notes:read', params: { resource: apiUrl } });
    const flow = await driveAuthorization(new BrowserAgent(), url, { redirectUri, user: { username: 'ada', password: PASSWORD } });
    expect(flow.code).toEqual(expect.any(String));
    const issued = await tokenRequest(tessera.issuer, { grant_type: 'authorization_code', code: flow.code!, redirect_uri: redirectUri, code_verifier: verifier, resource: apiUrl }, { clientId });
    expect(issued.status).toBe(200);
    expect((await fetch(apiUrl, { headers: { authorization: `Bearer ${issued.body.access_token}` } })).status).toBe(200);

    const plainClientId = `${documentBase}/clients/plain-http.json`;
    serveDocument('/clients/plain-http.json', { client_id: plainClientId, redirect_uris: ['http://app.example.test/callback'] });
    const page = await authorizationWith(tessera, plainClientId, { redirect_uri: 'http://app.example.test/callback' });
    expect(page.status).toBe(400);
    expect(page.text).toMatch(/plain http to another machine/);
  });

  test('refresh tokens: a refresh keeps the API\'s audience; once the admin closes the API to dynamic clients, a refresh for it is invalid_target', async () => {
    const clientId = `${documentBase}/clients/notes-assistant.json`;
    serveNotesAssistant(clientId);
    const { url, verifier } = authorizationRequest({
      baseUrl: tessera.issuer, clientId, redirectUri: REDIRECT_URI, scope: 'notes:read offline_access', params: { resource: apiUrl, prompt: 'consent' },
    });
    const flow = await driveAuthorization(new BrowserAgent(), url, { redirectUri: REDIRECT_URI, user: { username: 'ada', password: PASSWORD } });
    const issued = await tokenRequest(tessera.issuer, { grant_type: 'authorization_code', code: flow.code!, redirect_uri: REDIRECT_URI, code_verifier: verifier, resource: apiUrl }, { clientId });
    expect(issued.status).toBe(200);
    expect(issued.body.refresh_token).toEqual(expect.any(String));

    const refreshed = await tokenRequest(tessera.issuer, { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token!, resource: apiUrl }, { clientId });
    expect(refreshed.status).toBe(200);
    expect((await fetch(apiUrl, { headers: { authorization: `Bearer ${refreshed.body.access_token}` } })).status).toBe(200);

    const closed = await cli(tessera, ['resources', 'update', apiUrl, '--no-dynamic-clients', '--json']);
    expect(closed.json).toMatchObject({ dynamic_clients: false });
    try {
      const refused = await tokenRequest(tessera.issuer, { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token!, resource: apiUrl }, { clientId });
      expect([refused.status, refused.body.error]).toEqual([400, 'invalid_target']);
    } finally {
      expect((await cli(tessera, ['resources', 'update', apiUrl, '--dynamic-clients', '--json'])).json).toMatchObject({ dynamic_clients: true });
    }
  });

  test('what the document claims grants nothing: no admin, no API closed to dynamic clients, no scope outside the offer, no other redirect_uri', async () => {
    const clientId = `${documentBase}/clients/greedy.json`;
    // no-store: kept for the floor of 60 s anyway, so these requests do not each make Tessera fetch
    serveDocument('/clients/greedy.json', { client_id: clientId, redirect_uris: [REDIRECT_URI], client_name: 'Greedy' }, { 'cache-control': 'no-store' });
    const agent = () => new BrowserAgent();
    // a resource server without dynamic_clients: invalid_target before any page, on Tessera's page rather than
    // at the redirect URI (nobody registered the client by hand: no open redirector, docs/security.md T151)
    const refusedBeforeAnyPage = async (params: Record<string, string>, scope: string) => {
      const { url } = authorizationRequest({ baseUrl: tessera.issuer, clientId, redirectUri: REDIRECT_URI, scope, params });
      const page = await agent().request(url);
      expect([page.status, page.headers.get('location')]).toEqual([400, null]);
      expect(page.text).toContain('<code>invalid_target</code>');
    };
    await refusedBeforeAnyPage({ resource: 'https://ledger.example.test' }, 'ledger:read');
    // the admin API
    await refusedBeforeAnyPage({ resource: `${tessera.issuer}/admin` }, 'admin');
    // a redirect_uri the document does not list: a page, no redirect
    const elsewhere = await authorizationWith(tessera, clientId, { redirect_uri: 'https://attacker.example.test/callback' });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.headers.get('content-type')).toMatch(/text\/html/);
    expect(elsewhere.headers.get('location')).toBeNull();
    // client_credentials: a public client has no credentials
    const machine = await tokenRequest(tessera.issuer, { grant_type: 'client_credentials', resource: apiUrl, scope: 'notes:read' }, { clientId });
    expect(machine.status).toBe(400);
    expect(machine.body).toMatchObject({ error: 'invalid_request', error_description: 'requested grant type is not allowed for this client' });
    expect(machine.body.access_token).toBeUndefined();
    expect(fetchedDocuments.filter((path) => path === '/clients/greedy.json')).toHaveLength(1);
  });

  test('documents that break the rules are invalid_client on a page, never a 5xx', async () => {
    const cases: Array<[string, { status: number; headers?: Record<string, string>; body?: string }, RegExp]> = [
      ['/bad/other-id.json', { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: 'https://elsewhere.example.test/c.json', redirect_uris: [REDIRECT_URI] }) }, /client_id is not the URL/],
      ['/bad/secret.json', { status: 200, headers: { 'content-type': 'application/json' }, body: '' }, /client_secret/],
      ['/bad/no-redirects.json', { status: 200, headers: { 'content-type': 'application/json' }, body: '' }, /redirect_uris is missing/],
      ['/bad/html.json', { status: 200, headers: { 'content-type': 'text/html' }, body: '<html></html>' }, /not application\/json/],
      ['/bad/large.json', { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ padding: 'x'.repeat(6000) }) }, /larger than 5120 bytes/],
      ['/bad/missing.json', { status: 404 }, /status 404/],
      // a redirect is not followed, wherever it points (here: a private address)
      ['/bad/redirect.json', { status: 302, headers: { location: 'https://10.0.0.1/client.json' } }, /redirect, which is not followed/],
    ];
    for (const [path, answer, message] of cases) {
      const clientId = `${documentBase}${path}`;
      if (path === '/bad/secret.json') answer.body = JSON.stringify({ client_id: clientId, redirect_uris: [REDIRECT_URI], client_secret: 'shh', token_endpoint_auth_method: 'client_secret_basic' });
      if (path === '/bad/no-redirects.json') answer.body = JSON.stringify({ client_id: clientId });
      answers.set(path, answer);
      const page = await authorizationWith(tessera, clientId);
      expect([path, page.status]).toEqual([path, 400]);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(page.text).toMatch(message);
      expect(page.text).toContain('cannot be used');
    }
    // at the token endpoint: invalid_client JSON
    const token = await tokenRequest(tessera.issuer, { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT_URI, code_verifier: 'y'.repeat(43) }, { clientId: `${documentBase}/bad/missing.json` });
    expect(token.body.error).toBe('invalid_client');
  });

  test('documents on private, loopback and special addresses are refused unless loopback is allowed (development)', async () => {
    const clientId = `${documentBase}/clients/notes-assistant.json`;
    serveNotesAssistant(clientId);
    // the same document the dev server accepts: the strict one refuses it (localhost resolves to loopback)
    const byName = await authorizationWith(strict, clientId);
    expect(byName.status).toBe(400);
    expect(byName.text).toMatch(/does not resolve to a public address/);

    const port = new URL(documentBase).port;
    const refusedEverywhere = [
      'https://10.0.0.8/client.json',
      'https://192.168.1.20/client.json',
      'https://172.16.0.1/client.json',
      'https://169.254.169.254/latest/meta-data/client.json', // cloud metadata
      'https://100.64.0.1/client.json', // CGNAT
      'https://[fd00::1]/client.json', // unique local
      'https://[fe80::1]/client.json', // link-local
      'https://[::ffff:10.0.0.8]/client.json', // IPv4-mapped private
      'https://[::ffff:127.0.0.1]/client.json', // IPv4-mapped loopback
      'https://224.0.0.1/client.json', // multicast
      'https://0.0.0.0/client.json',
    ];
    const loopbackForms = [
      `https://127.0.0.1:${port}/clients/notes-assistant.json`,
      `https://[::1]:${port}/clients/notes-assistant.json`,
      `https://2130706433:${port}/clients/notes-assistant.json`, // 127.0.0.1 as one number (the URL parser makes it 127.0.0.1)
    ];
    for (const url of [...refusedEverywhere, ...loopbackForms]) {
      const page = await authorizationWith(strict, url);
      expect([url, page.status]).toEqual([url, 400]);
      expect(page.text).toMatch(/its address is not a public one/);
    }
    for (const url of refusedEverywhere) {
      const page = await authorizationWith(tessera, url);
      expect([url, page.status]).toEqual([url, 400]);
      expect(page.text).toMatch(/its address is not a public one/);
    }
    // with the allowance, a loopback address is fetched (this document names another URL: refused for that, after the fetch)
    const allowed = await authorizationWith(tessera, `https://127.0.0.1:${port}/clients/notes-assistant.json`);
    expect(allowed.status).toBe(400);
    expect(allowed.text).toMatch(/client_id is not the URL/);
  });
});
