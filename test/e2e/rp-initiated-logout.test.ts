// Issue 14, RP-initiated logout end to end (OpenID Connect RP-Initiated Logout
// 1.0): a client registered with the CLI (--post-logout-redirect-uris,
// --backchannel-logout-uri), a person signed in with openid-client through the
// pages in headless Chromium, then the client's logout URL built by
// openid-client's buildEndSessionUrl. On Postgres and Redis.
//
// What it proves: the confirm page ("Sign out of <client>?") is the defence
// against logout CSRF and "Stay signed in" changes nothing; a registered
// post_logout_redirect_uri gets the person back with `state`; one that is not
// registered exactly is never followed (signed out, Tessera's page); a forged
// id_token_hint is refused and signs nobody out; the session ends (the
// /account list of another browser shows it gone, prompt=none answers
// login_required, the grant's access token is dead), the back-channel logout
// token is sent and verifies against /jwks, `session.ended` is audited.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchChromium } from '../support/chromium.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

const USER = { username: 'noor', password: 'noor-has-a-long-password' };
const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
// openid-client refuses http:// issuers unless told; the server is on loopback
const insecureOnLoopback = { execute: [oidc.allowInsecureRequests] };

interface Received { method: string; path: string; query: URLSearchParams; body: URLSearchParams }

/** The client's side: a loopback server that records its callback, its post-logout page and the logout tokens posted to it. */
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
      res.end('<!DOCTYPE html><title>Notes</title><h1>Back at Notes</h1>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, origin: `http://127.0.0.1:${port}`, received };
}

const up = (await postgresUp()) && (await redisUp());

describeWithService('Postgres and Redis', up)('RP-initiated logout with openid-client in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let site: Awaited<ReturnType<typeof startClientSite>>;
  let callback: string;
  let loggedOut: string;
  let userId: string;
  let client: { client_id: string; client_secret: string };
  let config: oidc.Configuration;

  beforeAll(async () => {
    [server, site] = await Promise.all([
      startTestServer({ database: 'postgres', redis: true, config: { backchannelLogout: { allowLoopback: true } } }),
      startClientSite(),
    ]);
    callback = `${site.origin}/callback`;
    loggedOut = `${site.origin}/logged-out`;
    const env = adminCliEnv(server);
    const user = await runTesseraCli(['users', 'create', '--username', USER.username, '--password-stdin', '--json'], env, `${USER.password}\n`);
    expect(user.code).toBe(0);
    userId = user.json.id;
    // the operator's way: the CLI, through the admin API
    const created = await runTesseraCli([
      'clients', 'create', '--name', 'Notes', '--grant-types', 'authorization_code',
      '--redirect-uris', callback, '--post-logout-redirect-uris', loggedOut,
      '--backchannel-logout-uri', `${site.origin}/backchannel`, '--scopes', 'openid profile', '--json',
    ], env);
    expect(created.code).toBe(0);
    client = created.json;
    expect((await runTesseraCli(['clients', 'show', client.client_id, '--json'], env)).json.post_logout_redirect_uris).toEqual([loggedOut]);
    // a list given to update replaces the stored one; a URI that is not absolute is refused, naming the field
    const updated = await runTesseraCli(['clients', 'update', client.client_id, '--post-logout-redirect-uris', `${loggedOut},${site.origin}/bye`, '--json'], env);
    expect(updated.code).toBe(0);
    expect((await runTesseraCli(['clients', 'show', client.client_id, '--json'], env)).json.post_logout_redirect_uris).toEqual([loggedOut, `${site.origin}/bye`]);
    const refused = await runTesseraCli(['clients', 'update', client.client_id, '--post-logout-redirect-uris', 'signed-out', '--json'], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout).toContain('post_logout_redirect_uris');

    config = await oidc.discovery(new URL(server.issuer), client.client_id, { redirect_uris: [callback] }, oidc.ClientSecretBasic(client.client_secret), insecureOnLoopback);
    browser = await launchChromium();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.server.close(resolve));
    await server?.stop();
  });

  const receivedAt = (path: string) => site.received.filter((r) => r.path === path);

  async function fillSignIn(page: Page) {
    await page.getByLabel('Username').fill(USER.username);
    await page.getByLabel('Password').fill(USER.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  /** Signs in to Notes with openid-client (code + PKCE) through the pages of this browser context; the token response. */
  async function signInToNotes(page: Page) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: callback, scope: 'openid profile', state, nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    if (await page.getByRole('heading', { name: 'Sign in' }).isVisible()) await fillSignIn(page);
    const allow = page.getByRole('button', { name: 'Allow' });
    await Promise.race([allow.waitFor(), page.waitForURL((u) => u.href.startsWith(callback))]);
    if (!page.url().startsWith(callback)) {
      await Promise.all([page.waitForURL((u) => u.href.startsWith(callback)), allow.click()]);
    }
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    return tokens;
  }

  /** What /auth with prompt=none answers this browser: a code (signed in) or the error. */
  async function silentSignIn(page: Page): Promise<string> {
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: callback, scope: 'openid', prompt: 'none', state: 'silent',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await page.waitForURL((u) => u.href.startsWith(callback));
    const params = new URL(page.url()).searchParams;
    return params.get('code') ? 'code' : params.get('error')!;
  }

  /** The sessions /account lists in this browser (signing in there on the way). */
  async function accountSessions(page: Page): Promise<number> {
    await page.goto(new URL('/account', server.url).href);
    if (await page.getByRole('heading', { name: 'Sign in' }).isVisible()) await fillSignIn(page);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    return page.locator('section[aria-labelledby="sessions-heading"] ul.items > li').count();
  }

  async function withContext<T>(run: (page: Page, context: BrowserContext) => Promise<T>): Promise<T> {
    const context = await browser.newContext();
    try {
      return await run(await context.newPage(), context);
    } finally {
      await context.close();
    }
  }

  test('with id_token_hint, a registered post_logout_redirect_uri and state: confirmed, back at the client with its state; the session ends everywhere it shows', async () => {
    const other = await browser.newContext(); // a second browser of the same person: its /account lists the sessions
    try {
      const otherPage = await other.newPage();
      await withContext(async (page) => {
        const tokens = await signInToNotes(page);
        const idToken = tokens.id_token!;
        const { sid } = decodeJwt(idToken) as { sid: string };
        expect(await accountSessions(otherPage)).toBe(2);
        await expect(oidc.fetchUserInfo(config, tokens.access_token, userId)).resolves.toMatchObject({ sub: userId });

        const logoutUrl = oidc.buildEndSessionUrl(config, {
          id_token_hint: idToken, post_logout_redirect_uri: loggedOut, state: 'bye-from-notes',
          // accepted as the provider supports them: Tessera's pages are in English, the hint names nobody else
          ui_locales: 'de en', logout_hint: USER.username,
        });
        expect(logoutUrl.origin + logoutUrl.pathname).toBe(`${server.issuer}/session/end`);
        await page.goto(logoutUrl.href);
        await expect(page.getByRole('heading', { name: 'Sign out of Notes?' }).isVisible()).resolves.toBe(true);
        await expect(page.getByText('not registered').count()).resolves.toBe(0);
        await Promise.all([
          page.waitForURL((u) => u.href.startsWith(loggedOut)),
          page.getByRole('button', { name: 'Sign out', exact: true }).click(),
        ]);
        expect(new URL(page.url()).searchParams.get('state')).toBe('bye-from-notes');
        expect(receivedAt('/logged-out').at(-1)?.query.get('state')).toBe('bye-from-notes');

        // the back-channel logout token for this session, signed with the ID-token keys
        const posted = receivedAt('/backchannel').map((r) => r.body.get('logout_token')!);
        expect(posted.length).toBeGreaterThan(0);
        const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
        const verified = await Promise.all(posted.map((token) => jwtVerify(token, jwks, { issuer: server.issuer, audience: client.client_id, typ: 'logout+jwt' })));
        expect(verified.map((v) => v.payload)).toContainEqual(expect.objectContaining({ sub: userId, sid, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } }));

        // the session is gone: prompt=none, the grant's access token, the other browser's list
        expect(await silentSignIn(page)).toBe('login_required');
        await expect(oidc.fetchUserInfo(config, tokens.access_token, userId)).rejects.toMatchObject({ status: 401 });
        expect(await accountSessions(otherPage)).toBe(1);

        await server.services.audit.flush();
        const events = await server.services.audit.list({ type: 'session.ended', limit: 50, offset: 0 });
        expect(events).toContainEqual(expect.objectContaining({
          actor: userId, subject: userId, clientId: client.client_id,
          details: expect.objectContaining({ via: 'end_session', everywhere: true }),
        }));
      });
    } finally {
      await other.close();
    }
  });

  test('a post_logout_redirect_uri not registered exactly is never followed: the page says so, and after "Sign out" Tessera says you are signed out', async () => {
    for (const [name, unregistered] of [
      ['another path', `${site.origin}/elsewhere`],
      ['a trailing slash', `${loggedOut}/`],
      ['an added query', `${loggedOut}?next=https://evil.example`],
      ['another host', 'https://evil.example/logged-out'],
    ] as const) {
      await withContext(async (page) => {
        const before = site.received.length;
        const { id_token: idToken } = await signInToNotes(page);
        await page.goto(oidc.buildEndSessionUrl(config, { id_token_hint: idToken!, post_logout_redirect_uri: unregistered, state: 's' }).href);
        expect({ name, confirm: await page.getByRole('heading', { name: 'Sign out of Notes?' }).isVisible() }).toEqual({ name, confirm: true });
        await expect(page.getByText('Notes gave a return address it has not registered, so you will stay here after signing out.').isVisible()).resolves.toBe(true);
        await Promise.all([
          page.waitForURL((u) => u.href.startsWith(`${server.issuer}/session/end/success`)),
          page.getByRole('button', { name: 'Sign out', exact: true }).click(),
        ]);
        await expect(page.getByRole('heading', { name: 'You are signed out' }).isVisible()).resolves.toBe(true);
        expect(new URL(page.url()).searchParams.has('state')).toBe(false);
        // nothing reached the client after the sign-in but its logout token
        expect(site.received.slice(before).filter((r) => r.path !== '/callback' && r.path !== '/backchannel')).toEqual([]);
        expect(await silentSignIn(page)).toBe('login_required');
      });
    }
  });

  test('without a session (the page submits itself) an unregistered post_logout_redirect_uri is not followed either', async () => {
    await withContext(async (page) => {
      const before = site.received.length;
      const url = oidc.buildEndSessionUrl(config, { post_logout_redirect_uri: `${site.origin}/elsewhere`, state: 's' });
      // openid-client adds client_id: the client is known, the URI is not its own
      expect(url.searchParams.get('client_id')).toBe(client.client_id);
      await page.goto(url.href);
      await page.waitForURL((u) => u.href.startsWith(`${server.issuer}/session/end/success`));
      await expect(page.getByRole('heading', { name: 'You are signed out' }).isVisible()).resolves.toBe(true);
      expect(site.received.slice(before)).toEqual([]);
    });
  });

  test('a forged id_token_hint is refused and signs nobody out', async () => {
    await withContext(async (page) => {
      const tokens = await signInToNotes(page);
      const real = tokens.id_token!;
      const claims = decodeJwt(real);
      const { kid } = decodeProtectedHeader(real);
      const { privateKey } = await generateKeyPair('RS256');
      const forgeries = {
        'signed with another key under the real kid': await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey),
        'unsigned (alg none)': `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${real.split('.')[1]}.`,
        'the real token with another subject': `${real.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${real.split('.')[2]}`,
        'not a JWT at all': 'not-a-token',
      };
      for (const [name, forged] of Object.entries(forgeries)) {
        const answer = await page.goto(oidc.buildEndSessionUrl(config, { id_token_hint: forged, post_logout_redirect_uri: loggedOut, state: 'forged' }).href);
        expect({ name, status: answer!.status() }).toEqual({ name, status: 400 });
        await expect(page.getByRole('heading', { name: 'The request could not be completed' }).isVisible()).resolves.toBe(true);
        await expect(page.getByRole('button', { name: 'Sign out', exact: true }).count()).resolves.toBe(0);
      }
      // a real hint with a client_id that is not its audience: refused too
      const mismatched = new URL(oidc.buildEndSessionUrl(config, { id_token_hint: real }).href);
      mismatched.searchParams.set('client_id', 'tessera-account');
      expect((await page.goto(mismatched.href))!.status()).toBe(400);
      expect(receivedAt('/logged-out').some((r) => r.query.get('state') === 'forged')).toBe(false);
      expect(await silentSignIn(page)).toBe('code');
      await expect(oidc.fetchUserInfo(config, tokens.access_token, userId)).resolves.toMatchObject({ sub: userId });
    });
  });

  test('logout CSRF: a bare link to /session/end signs nobody out; "Stay signed in" changes nothing', async () => {
    await withContext(async (page) => {
      const tokens = await signInToNotes(page);
      const backchannelBefore = receivedAt('/backchannel').length;
      const endedEvents = async () => {
        await server.services.audit.flush();
        return (await server.services.audit.list({ type: 'session.ended', limit: 100, offset: 0 })).length;
      };
      const endedBefore = await endedEvents();
      // what a hostile page can link to: no id_token_hint, only the client's id
      await page.goto(`${server.issuer}/session/end?client_id=${encodeURIComponent(client.client_id)}`);
      await expect(page.getByRole('heading', { name: 'Sign out of Notes?' }).isVisible()).resolves.toBe(true);
      await Promise.all([
        page.waitForURL((u) => u.href.startsWith(`${server.issuer}/account`)),
        page.getByRole('button', { name: 'Stay signed in' }).click(),
      ]);
      await page.getByRole('heading', { name: 'Your account' }).waitFor();
      expect(await silentSignIn(page)).toBe('code');
      await expect(oidc.fetchUserInfo(config, tokens.access_token, userId)).resolves.toMatchObject({ sub: userId });
      expect(receivedAt('/backchannel').length).toBe(backchannelBefore);
      expect(await endedEvents()).toBe(endedBefore);
    });
  });
  for (const [width, viewport] of Object.entries(VIEWPORTS)) {
    test(`at ${width} width: the confirm page and the signed-out page fit, in Tessera's look`, async () => {
      const context = await browser.newContext({ viewport, isMobile: width === 'phone', hasTouch: width === 'phone' });
      try {
        const page = await context.newPage();
        const problems: string[] = [];
        page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
        const { id_token: idToken } = await signInToNotes(page);
        await page.goto(oidc.buildEndSessionUrl(config, { id_token_hint: idToken!, post_logout_redirect_uri: `${site.origin}/elsewhere` }).href);
        await page.getByRole('heading', { name: 'Sign out of Notes?' }).waitFor();
        const fits = async () => page.evaluate('document.documentElement.scrollWidth <= window.innerWidth') as Promise<boolean>;
        await expect(fits()).resolves.toBe(true);
        await page.screenshot({ path: `${SCREENSHOTS}logout-confirm-${width}.png`, fullPage: true });
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
        await expect(fits()).resolves.toBe(true);
        await page.screenshot({ path: `${SCREENSHOTS}logout-done-${width}.png`, fullPage: true });
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
