// Issue 9, finding 4: the pages oidc-provider renders itself (the form_post
// response, the auto-submitting logout of a browser with no session) carry an
// inline script, which the provider allows by adding its hash to the
// Content-Security-Policy's script-src; with no script-src directive there was
// nothing to add it to, and Chromium showed a blank page. Each flow runs here in
// headless Chromium with JavaScript on, and no page may report a CSP violation.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.ts';
import { pkcePair, tokenRequest } from '../support/oauth.ts';
import { launchChromium } from '../support/chromium.ts';

const USER = { username: 'maria', password: 'maria-has-a-long-password' };
/** how long a page may take to submit itself; a blocked script never does */
const LANDING_TIMEOUT_MS = 15_000;

interface Received { method: string; path: string; query: URLSearchParams; body: URLSearchParams }

/** The client's side: a loopback server that records what reaches its redirect URIs. */
async function startClientSite(): Promise<{ server: Server; origin: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://client.invalid');
      if (url.pathname !== '/favicon.ico') {
        received.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, body: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) });
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!DOCTYPE html><title>Client</title><h1>Back at the client</h1>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, origin: `http://127.0.0.1:${port}`, received };
}

/**
 * What a page reports that it should not: CSP violations (from the
 * securitypolicyviolation event, in every document of the context), console
 * errors (Chromium logs a refused script there too) and uncaught exceptions.
 */
async function watchForProblems(context: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  const problems: string[] = [];
  await context.exposeBinding('reportCspViolation', (_source, text: string) => { problems.push(`CSP violation: ${text}`); });
  // a string: this runs in the page (the project's TypeScript has no DOM types); init scripts are not subject to the page's CSP
  await context.addInitScript(`document.addEventListener('securitypolicyviolation', (e) =>
    window.reportCspViolation(e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' on ' + e.documentURI));`);
  const page = await context.newPage();
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { page, problems };
}

describe('the provider\'s own pages in a browser with JavaScript on', () => {
  let server: TestServer;
  let browser: Browser;
  let site: Awaited<ReturnType<typeof startClientSite>>;
  let client: { clientId: string; clientSecret?: string };
  let callback: string;
  let loggedOut: string;

  beforeAll(async () => {
    [server, site] = await Promise.all([startTestServer(), startClientSite()]);
    callback = `${site.origin}/callback`;
    loggedOut = `${site.origin}/logged-out`;
    await server.createUser(USER);
    client = await server.createClient({
      name: 'Photo Album',
      grantTypes: ['authorization_code'],
      redirectUris: [callback],
      postLogoutRedirectUris: [loggedOut],
      scopes: ['openid', 'profile'],
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.server.close(resolve));
    await server?.stop();
  });

  function authorizationUrl(params: Record<string, string>): { url: string; verifier: string } {
    const { verifier, challenge } = pkcePair();
    const url = new URL('/auth', server.url);
    for (const [key, value] of Object.entries({
      client_id: client.clientId, response_type: 'code', redirect_uri: callback, scope: 'openid profile',
      code_challenge: challenge, code_challenge_method: 'S256', ...params,
    })) url.searchParams.set(key, value);
    return { url: url.href, verifier };
  }

  /** Waits for the page to reach `prefix`; a page stuck on the way fails the test later with what it reported. */
  async function landOn(page: Page, prefix: string): Promise<void> {
    await page.waitForURL((url) => url.href.startsWith(prefix), { timeout: LANDING_TIMEOUT_MS }).catch(() => undefined);
  }

  const lastReceived = (path: string) => site.received.filter((r) => r.path === path).at(-1);

  /** Signs in through the login and consent pages; the authorization response is the provider's to deliver. */
  async function signInThroughPages(page: Page, params: Record<string, string>): Promise<{ verifier: string }> {
    const { url, verifier } = authorizationUrl({ prompt: 'consent', ...params });
    await page.goto(url);
    await page.getByLabel('Username').fill(USER.username);
    await page.getByLabel('Password').fill(USER.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    return { verifier };
  }

  /** An ID token for the user, from a browser context that is then closed (its session cookie with it). */
  async function idTokenFromAnotherBrowser(): Promise<string> {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const { verifier } = await signInThroughPages(page, { state: 'for-an-id-token' });
      await landOn(page, callback);
      const code = new URL(page.url()).searchParams.get('code');
      expect(code).toEqual(expect.any(String));
      const tokens = await tokenRequest(server.url, { grant_type: 'authorization_code', code: code!, redirect_uri: callback, code_verifier: verifier }, client);
      expect(tokens.status).toBe(200);
      return tokens.body.id_token!;
    } finally {
      await context.close();
    }
  }

  test('response_mode=form_post: after sign-in and consent, the resume page POSTs the code to redirect_uri', async () => {
    const context = await browser.newContext();
    const { page, problems } = await watchForProblems(context);
    try {
      const { verifier } = await signInThroughPages(page, { response_mode: 'form_post', state: 'form-post-state' });
      await landOn(page, callback);

      expect(problems).toEqual([]);
      expect(page.url()).toBe(callback);
      const posted = lastReceived('/callback');
      expect(posted).toMatchObject({ method: 'POST' });
      expect(posted!.query.get('code')).toBeNull(); // in the body, not in the URL
      expect(posted!.body.get('state')).toBe('form-post-state');
      expect(posted!.body.get('iss')).toBe(server.issuer);
      const tokens = await tokenRequest(server.url, {
        grant_type: 'authorization_code', code: posted!.body.get('code')!, redirect_uri: callback, code_verifier: verifier,
      }, client);
      expect(tokens.status).toBe(200);
      expect(tokens.body.id_token).toEqual(expect.any(String));
    } finally {
      await context.close();
    }
  });

  test('response_mode=form_post with a session (no pages) and an error (prompt=none without a session) are POSTed too', async () => {
    const context = await browser.newContext();
    const { page, problems } = await watchForProblems(context);
    try {
      // no session yet: the error comes back by form_post straight from /auth
      await page.goto(authorizationUrl({ response_mode: 'form_post', prompt: 'none', state: 'no-session' }).url);
      await landOn(page, callback);
      // Chromium logs a document answered with 400 as a console error; the form_post error page is one
      expect(problems.filter((p) => !p.includes('status of 400 (Bad Request)'))).toEqual([]);
      problems.length = 0;
      const refused = lastReceived('/callback');
      expect(refused).toMatchObject({ method: 'POST' });
      expect(refused!.body.get('error')).toBe('login_required');
      expect(refused!.body.get('state')).toBe('no-session');

      // sign in (query response), then a second request is answered by /auth itself with the form_post page
      await signInThroughPages(page, { state: 'first' });
      await landOn(page, callback);
      const { url, verifier } = authorizationUrl({ response_mode: 'form_post', state: 'with-session' });
      await page.goto(url);
      await landOn(page, callback);
      expect(problems).toEqual([]);
      const posted = lastReceived('/callback');
      expect(posted).toMatchObject({ method: 'POST' });
      expect(posted!.body.get('state')).toBe('with-session');
      const tokens = await tokenRequest(server.url, {
        grant_type: 'authorization_code', code: posted!.body.get('code')!, redirect_uri: callback, code_verifier: verifier,
      }, client);
      expect(tokens.status).toBe(200);
    } finally {
      await context.close();
    }
  });

  test('RP-initiated logout without a session, no parameters: the page submits itself and shows "You are signed out"', async () => {
    const context = await browser.newContext();
    const { page, problems } = await watchForProblems(context);
    try {
      await page.goto(new URL('/session/end', server.url).href);
      await landOn(page, new URL('/session/end/success', server.url).href);

      expect(problems).toEqual([]);
      await expect(page.getByRole('heading', { name: 'You are signed out' }).isVisible()).resolves.toBe(true);
    } finally {
      await context.close();
    }
  });

  test('RP-initiated logout without a session, with id_token_hint and post_logout_redirect_uri: lands on the client with its state', async () => {
    const idToken = await idTokenFromAnotherBrowser();
    const context = await browser.newContext();
    const { page, problems } = await watchForProblems(context);
    try {
      const url = new URL('/session/end', server.url);
      url.searchParams.set('id_token_hint', idToken);
      url.searchParams.set('post_logout_redirect_uri', loggedOut);
      url.searchParams.set('state', 'bye-state');
      await page.goto(url.href);
      await landOn(page, loggedOut);

      expect(problems).toEqual([]);
      expect(new URL(page.url()).searchParams.get('state')).toBe('bye-state');
      expect(lastReceived('/logged-out')?.query.get('state')).toBe('bye-state');
    } finally {
      await context.close();
    }
  });

  test('RP-initiated logout with a session: Tessera\'s confirmation page signs out and returns to the client', async () => {
    const context = await browser.newContext();
    const { page, problems } = await watchForProblems(context);
    try {
      const { verifier } = await signInThroughPages(page, { state: 'before-logout' });
      await landOn(page, callback);
      const code = new URL(page.url()).searchParams.get('code')!;
      const tokens = await tokenRequest(server.url, { grant_type: 'authorization_code', code, redirect_uri: callback, code_verifier: verifier }, client);

      const url = new URL('/session/end', server.url);
      url.searchParams.set('id_token_hint', tokens.body.id_token!);
      url.searchParams.set('post_logout_redirect_uri', loggedOut);
      url.searchParams.set('state', 'confirmed-state');
      await page.goto(url.href);
      await expect(page.getByRole('heading', { name: 'Sign out of Photo Album?' }).isVisible()).resolves.toBe(true);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await landOn(page, loggedOut);

      expect(problems).toEqual([]);
      expect(new URL(page.url()).searchParams.get('state')).toBe('confirmed-state');
      // the session is gone: prompt=none now answers login_required
      await page.goto(authorizationUrl({ prompt: 'none', state: 'after-logout' }).url);
      await landOn(page, callback);
      expect(new URL(page.url()).searchParams.get('error')).toBe('login_required');
    } finally {
      await context.close();
    }
  });

  test('the policy stays strict: no unsafe-inline or unsafe-eval, no script source on Tessera\'s pages, one hash on the form_post page', async () => {
    const context = await browser.newContext();
    const { page, problems } = await watchForProblems(context);
    try {
      const loginResponse = await page.goto(authorizationUrl({ prompt: 'consent', state: 'csp' }).url);
      const tesseraPolicy = loginResponse!.headers()['content-security-policy'];
      await page.getByLabel('Username').fill(USER.username);
      await page.getByLabel('Password').fill(USER.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('button', { name: 'Allow' }).click();
      await landOn(page, callback);
      // with the session and the grant, the form_post page itself, read without a browser (which would submit it)
      const formPostResponse = await context.request.get(authorizationUrl({ response_mode: 'form_post', state: 'csp' }).url, { maxRedirects: 0 });
      const formPostPolicy = formPostResponse.headers()['content-security-policy'];
      expect(await formPostResponse.text()).toContain('<title>Submitting Callback</title>');

      const directives = (policy: string) => new Map(policy.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
      for (const policy of [tesseraPolicy, formPostPolicy]) {
        expect(policy).not.toMatch(/unsafe-inline|unsafe-eval|unsafe-hashes|strict-dynamic|\*/);
        const byName = directives(policy);
        expect(byName.get('default-src')).toEqual(["'none'"]);
        expect(byName.get('frame-ancestors')).toEqual(["'none'"]);
        expect(byName.get('base-uri')).toEqual(["'none'"]);
      }
      expect(directives(tesseraPolicy).get('script-src')).toEqual(["'self'"]);
      expect(directives(formPostPolicy).get('script-src')).toEqual(["'self'", expect.stringMatching(/^'sha256-[A-Za-z0-9+/]{43}='$/)]);

      // and "script-src 'self'" allows no inline script: an inline script without the hash is refused
      const probe = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': tesseraPolicy });
        res.end('<!DOCTYPE html><title>Probe</title><script>document.title = "script ran"</script>');
      });
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      try {
        await page.goto(`http://127.0.0.1:${(probe.address() as { port: number }).port}/`);
        await expect(page.title()).resolves.toBe('Probe');
        expect(problems.some((p) => p.startsWith('CSP violation: script-src-elem blocked inline'))).toBe(true);
      } finally {
        await new Promise((resolve) => probe.close(resolve));
      }
    } finally {
      await context.close();
    }
  });
});
