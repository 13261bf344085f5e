// Issue 14: the other way an MCP client joins, dynamic registration (RFC 7591).
// Tessera runs as a real process (`node src/main.ts serve`) with
// DYNAMIC_REGISTRATION=open, beside the example API (examples/protected-api).
// A client that knows only the API's URL gets the 401, reads the API's
// RFC 9728 metadata and Tessera's RFC 8414 metadata, finds
// registration_endpoint, registers itself as a native app with a loopback
// redirect URI, runs the code flow with PKCE and `resource` through the pages,
// and calls the API. With DYNAMIC_REGISTRATION=token the same registration is
// refused without an initial access token.
//
// And RFC 9700 §4.11.2: with open registration anyone can register a client
// whose redirect_uri is a phishing page and use Tessera's authorization
// endpoint to redirect people there with an error. For such a client an
// error before any page is a Tessera page with an explicit "Return to
// <host>" (src/provider/self-registered-error-redirects.ts, docs/security.md
// T151); clients an admin registered keep the standard redirect.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { freePort, spawnTessera, waitForOk, type TesseraProcess } from '../support/process.ts';
import { runTesseraCli } from '../support/cli.ts';
import { BrowserAgent } from '../support/browser-agent.ts';
import { startExampleApi, type ExampleApi } from '../support/example-api.ts';
import { authorizationRequest, driveAuthorization } from '../support/oauth.ts';
import { createServer as createHttpServer } from 'node:http';
import { launchChromium } from '../support/chromium.ts';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

const PASSWORD = 'a long and unguessable passphrase';
const STARTUP_MS = 60_000;
const PHISHING_URI = 'https://phishing.example.test/callback';

interface Tessera { proc: TesseraProcess; issuer: string; keysDir: string }

describe('an MCP client that registers itself (RFC 7591), and error redirects to self-registered clients (RFC 9700 §4.11.2)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-mcp-dcr-'));
  let open: Tessera;
  let byToken: Tessera;
  let api: ExampleApi | undefined;
  let apiUrl: string;

  async function startTessera(name: string, env: Record<string, string>): Promise<Tessera> {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const keysDir = join(dir, `${name}-keys`);
    const proc = spawnTessera(['serve'], {
      PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, DATA_DIR: join(dir, `${name}-data`), KEYS_DIR: keysDir, LOG_LEVEL: 'info', ...env,
    }, port);
    await waitForOk(`${issuer}/.well-known/oauth-authorization-server`, proc, STARTUP_MS);
    return { proc, issuer, keysDir };
  }

  const cli = (server: Tessera, args: string[], stdin = '') =>
    runTesseraCli(args, { PATH: process.env.PATH, ISSUER: server.issuer, KEYS_DIR: server.keysDir, LOG_LEVEL: 'silent' }, stdin);

  /** RFC 7591 §3.1: POST the metadata as JSON */
  const register = (server: Tessera, metadata: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${server.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(metadata) });

  beforeAll(async () => {
    [open, byToken] = await Promise.all([
      startTessera('open', { DYNAMIC_REGISTRATION: 'open' }),
      startTessera('token', { DYNAMIC_REGISTRATION: 'token' }),
    ]);
    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}/notes`;
    // the API accepts clients nobody registered by hand (absent: they could not ask for its scopes)
    const resource = await cli(open, ['resources', 'create', '--identifier', apiUrl, '--name', 'Notes API', '--scopes', 'notes:read', '--dynamic-clients', '--json']);
    expect(resource.code).toBe(0);
    const user = await cli(open, ['users', 'create', '--username', 'ada', '--password-stdin', '--json'], `${PASSWORD}\n`);
    expect(user.code).toBe(0);

    api = await startExampleApi({ port: apiPort, issuer: open.issuer, resource: apiUrl, requiredScopes: 'notes:read', startupMs: STARTUP_MS });
  }, 3 * STARTUP_MS);

  afterAll(async () => {
    api?.stop();
    await Promise.all([open?.proc.stop(), byToken?.proc.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('from the API\'s 401 to a 200: RFC 9728 and RFC 8414 metadata, registration_endpoint, a native client with a loopback redirect, code + PKCE + resource', async () => {
    // 1. the 401 names the API's metadata, which names Tessera
    const first = await fetch(apiUrl);
    expect(first.status).toBe(401);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(first.headers.get('www-authenticate')!)![1];
    const resourceMetadata = await (await fetch(metadataUrl)).json() as { resource: string; authorization_servers: string[] };
    expect(resourceMetadata.authorization_servers).toEqual([open.issuer]);

    // 2. RFC 8414 metadata, read as a generic OAuth library reads it, names where to register
    const issuer = new URL(resourceMetadata.authorization_servers[0]);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }));
    expect(as.registration_endpoint).toBe(`${open.issuer}/reg`);

    // 3. registration as an MCP desktop client does: public, native, a loopback redirect URI (any port at run time, RFC 8252 §7.3)
    const registered = await register(open, {
      client_name: 'Desktop MCP client', application_type: 'native', redirect_uris: ['http://127.0.0.1/callback'],
      token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'notes:read',
    });
    expect(registered.status).toBe(201);
    const metadata = await registered.json() as { client_id: string; client_secret?: string };
    expect(metadata.client_secret).toBeUndefined();
    const client: oauth.Client = { client_id: metadata.client_id };

    // 4. the code flow with PKCE and resource, through the sign-in and consent pages
    const redirectUri = 'http://127.0.0.1:53682/callback';
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const authorizationUrl = new URL(as.authorization_endpoint!);
    for (const [key, value] of Object.entries({
      client_id: client.client_id, response_type: 'code', redirect_uri: redirectUri, scope: 'notes:read', resource: resourceMetadata.resource,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state,
    })) authorizationUrl.searchParams.set(key, value);
    const flow = await driveAuthorization(new BrowserAgent(), authorizationUrl.href, { redirectUri, user: { username: 'ada', password: PASSWORD } });
    // it registered itself: never first party, so the person is asked
    expect(flow.pages).toEqual(['login', 'consent']);
    const callbackParams = oauth.validateAuthResponse(as, client, flow.callback, state);
    const tokenAnswer = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), callbackParams, redirectUri, verifier, {
      additionalParameters: { resource: resourceMetadata.resource }, [oauth.allowInsecureRequests]: true,
    });
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, tokenAnswer);
    expect(tokens.scope).toBe('notes:read');

    // 5. the API accepts the token
    const notes = await fetch(apiUrl, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(notes.status).toBe(200);
    expect(await notes.json()).toMatchObject({ client_id: client.client_id, scope: 'notes:read' });
  });

  test('DYNAMIC_REGISTRATION=token: the same registration without an initial access token is refused (401 invalid_token challenge), and creates no client', async () => {
    const discovery = await (await fetch(`${byToken.issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
    expect(discovery.registration_endpoint).toBe(`${byToken.issuer}/reg`);
    const metadata = { client_name: 'Desktop MCP client', application_type: 'native', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', scope: 'openid' };
    const refused = await register(byToken, metadata);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const guessed = await register(byToken, metadata, { authorization: 'Bearer not-a-token-anyone-issued' });
    expect(guessed.status).toBe(401);
    expect(guessed.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    const listed = await cli(byToken, ['clients', 'list', '--json']);
    expect(JSON.stringify(listed.json)).not.toContain('Desktop MCP client');
  });

  describe('RFC 9700 §4.11.2: the authorization endpoint is no open redirector for self-registered clients', () => {
    let phishing: string;
    let vetted: string;
    beforeAll(async () => {
      // anyone may register this with open registration: a web client whose redirect URI is a phishing page
      const registered = await register(open, { client_name: 'Your Bank', redirect_uris: [PHISHING_URI], token_endpoint_auth_method: 'none', scope: 'notes:read' });
      expect(registered.status).toBe(201);
      phishing = ((await registered.json()) as { client_id: string }).client_id;
      const made = await cli(open, ['clients', 'create', '--name', 'Vetted', '--grant-types', 'authorization_code', '--redirect-uris', PHISHING_URI, '--public', '--scopes', 'notes:read', '--json']);
      expect(made.code).toBe(0);
      vetted = made.json.client_id as string;
    });

    const requestAuthorization = (clientId: string, params: Record<string, string>) =>
      new BrowserAgent().request(authorizationRequest({ baseUrl: open.issuer, clientId, redirectUri: PHISHING_URI, scope: 'notes:read', params: { state: 'the-state', ...params } }).url);

    /** the errors an attacker can cause without the person doing anything */
    const immediateErrors: Array<[string, Record<string, string>, string]> = [
      ['PKCE with the plain method', { code_challenge_method: 'plain' }, 'invalid_request'],
      ['prompt=none without a session', { prompt: 'none' }, 'login_required'],
      ['a resource that is not open to it', { resource: 'https://ledger.example.test' }, 'invalid_target'],
    ];

    test.each(immediateErrors)('%s: a client an admin registered gets the standard redirect', async (_name, params, error) => {
      const answer = await requestAuthorization(vetted, params);
      expect(answer.status).toBe(303);
      const location = new URL(answer.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(PHISHING_URI);
      expect(location.searchParams.get('error')).toBe(error);
      expect(location.searchParams.get('state')).toBe('the-state');
    });

    test.each(immediateErrors)('%s: a self-registered client\'s error is a Tessera page naming the host and the error, with an explicit link carrying the same answer', async (_name, params, error) => {
      const answer = await requestAuthorization(phishing, params);
      expect(answer.status).toBe(400);
      expect(answer.headers.get('location')).toBeNull();
      expect(answer.headers.get('content-type')).toMatch(/text\/html/);
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.text).toContain('The request could not be completed');
      expect(answer.text).toContain(`<code>${error}</code>`);
      // the answer the client would have had is behind the link, unchanged
      const href = /<a href="([^"]+)"[^>]*>Return to phishing\.example\.test<\/a>/.exec(answer.text)![1].replaceAll('&amp;', '&');
      const link = new URL(href);
      expect(`${link.origin}${link.pathname}`).toBe(PHISHING_URI);
      expect(link.searchParams.get('error')).toBe(error);
      expect(link.searchParams.get('state')).toBe('the-state');
      expect(link.searchParams.get('iss')).toBe(open.issuer);
    });

    test('response_mode=form_post: the page, not a form that submits itself to the registered URI', async () => {
      const answer = await requestAuthorization(phishing, { prompt: 'none', response_mode: 'form_post' });
      expect(answer.status).toBe(400);
      expect(answer.text).not.toContain('<script');
      expect(answer.text).not.toContain(PHISHING_URI);
      expect(answer.text).toContain('<code>login_required</code>');
      // an admin client keeps the provider's self-submitting form
      const standard = await requestAuthorization(vetted, { prompt: 'none', response_mode: 'form_post' });
      expect(standard.text).toContain('document.forms[0].submit()');
    });

    test('a pushed authorization request (PAR, RFC 9126) carries the redirect_uri: its error is the page too', async () => {
      const { url } = authorizationRequest({ baseUrl: open.issuer, clientId: phishing, redirectUri: PHISHING_URI, scope: 'notes:read', params: { prompt: 'none', state: 'pushed' } });
      const pushed = await fetch(`${open.issuer}/request`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URL(url).searchParams });
      expect(pushed.status).toBe(201);
      const { request_uri: requestUri } = await pushed.json() as { request_uri: string };
      const answer = await new BrowserAgent().request(`${open.issuer}/auth?${new URLSearchParams({ client_id: phishing, request_uri: requestUri })}`);
      expect([answer.status, answer.headers.get('location')]).toEqual([400, null]);
      expect(answer.text).toContain('<code>login_required</code>');
      expect(answer.text).toMatch(/<a href="https:\/\/phishing\.example\.test\/callback\?error=login_required&amp;[^"]*state=pushed/);
    });

    test('after the person chose (Deny on the consent page), the self-registered client gets the redirect: the person is sent where they chose to go', async () => {
      const { url } = authorizationRequest({ baseUrl: open.issuer, clientId: phishing, redirectUri: PHISHING_URI, scope: 'notes:read', params: { resource: apiUrl } });
      const flow = await driveAuthorization(new BrowserAgent(), url, { redirectUri: PHISHING_URI, user: { username: 'ada', password: PASSWORD }, consent: 'Deny' });
      expect(flow.pages).toEqual(['login', 'consent']);
      expect(flow.callback.searchParams.get('error')).toBe('access_denied');
    });

    test('a native app\'s private-use scheme has no host: the page names the scheme, and the link is the provider\'s answer', async () => {
      const redirectUri = 'com.example.notes:/callback';
      const registered = await register(open, { client_name: 'Notes', application_type: 'native', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', scope: 'notes:read' });
      expect(registered.status).toBe(201);
      const { client_id: clientId } = await registered.json() as { client_id: string };
      const answer = await new BrowserAgent().request(authorizationRequest({ baseUrl: open.issuer, clientId, redirectUri, scope: 'notes:read', params: { prompt: 'none', state: 's' } }).url);
      expect(answer.status).toBe(400);
      const href = /<a href="([^"]+)"[^>]*>Return to com\.example\.notes<\/a>/.exec(answer.text)![1].replaceAll('&amp;', '&');
      expect(href).toMatch(/^com\.example\.notes:\/callback\?error=login_required&/);
    });

    test('in a real browser (headless Chromium, JavaScript on): the page stays on Tessera (query and form_post); with query, the person\'s click on Return takes the unchanged answer to the client; no CSP violation', async () => {
      // the "client": a loopback site (a native app's redirect URI, any port) that records what reaches it
      const received: Array<{ method: string; url: string; body: string }> = [];
      const site = createHttpServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
        // the browser's own favicon request is not the client's answer
        req.on('end', () => { if (req.url !== '/favicon.ico') received.push({ method: req.method!, url: req.url!, body }); res.writeHead(200, { 'content-type': 'text/plain' }).end('client'); });
      });
      await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
      const redirectUri = `http://127.0.0.1:${(site.address() as { port: number }).port}/callback`;
      const registered = await register(open, { client_name: 'Loopback', application_type: 'native', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', scope: 'notes:read' });
      const { client_id: clientId } = await registered.json() as { client_id: string };
      const browser = await launchChromium();
      try {
        for (const mode of ['query', 'form_post']) {
          const context = await browser.newContext();
          const problems: string[] = [];
          await context.exposeBinding('reportCspViolation', (_source, text: string) => { problems.push(`CSP violation: ${text}`); });
          await context.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => window.reportCspViolation(e.effectiveDirective + ' ' + e.documentURI));`);
          const page = await context.newPage();
          page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
          received.length = 0;
          const { url } = authorizationRequest({ baseUrl: open.issuer, clientId, redirectUri, scope: 'notes:read', params: { prompt: 'none', state: `state-${mode}`, response_mode: mode } });
          await page.goto(url);
          const host = new URL(redirectUri).host;
          await page.getByRole('heading', { name: 'The request could not be completed' }).waitFor();
          expect(page.url().startsWith(open.issuer)).toBe(true);
          expect(received).toEqual([]);
          if (mode === 'query') {
            // fits a phone's width, and what it looks like (test-output/screenshots)
            await page.setViewportSize({ width: 390, height: 844 });
            const { scrollWidth, innerWidth } = await page.evaluate(
              '({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })',
            ) as { scrollWidth: number; innerWidth: number };
            expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
            mkdirSync(SCREENSHOTS, { recursive: true });
            await page.screenshot({ path: `${SCREENSHOTS}self-registered-client-error-phone.png`, fullPage: true });
          }
          if (mode === 'query') {
            await page.getByRole('link', { name: `Return to ${host}` }).click();
            await page.waitForURL((current) => current.href.startsWith(redirectUri));
            expect(received).toHaveLength(1);
            expect(received[0].method).toBe('GET');
            const answer = new URL(received[0].url, redirectUri).searchParams;
            expect([answer.get('error'), answer.get('state'), answer.get('iss')]).toEqual(['login_required', `state-${mode}`, open.issuer]);
          } else {
            // form_post: no link and no form to the client; nothing reached it
            await expect(page.getByRole('link', { name: `Return to ${host}` }).count()).resolves.toBe(0);
            expect(page.url().startsWith(open.issuer)).toBe(true);
            expect(received).toEqual([]);
          }
          expect(problems).toEqual([]);
          await context.close();
        }
      } finally {
        await browser.close();
        await new Promise((resolve) => site.close(resolve));
      }
    });

    test('a redirect_uri the client did not register is still the provider\'s own error page, without a link', async () => {
      const answer = await new BrowserAgent().request(authorizationRequest({ baseUrl: open.issuer, clientId: phishing, redirectUri: 'https://elsewhere.example.test/cb', scope: 'notes:read' }).url);
      expect(answer.status).toBe(400);
      expect(answer.text).not.toContain('elsewhere.example.test');
      expect(answer.text).not.toContain('Return to');
    });
  });
});
