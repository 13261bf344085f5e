// Issue 12, "done means" 2 (and the passkey part of 5 and 6): in headless
// Chromium with a virtual authenticator (Chrome DevTools Protocol, WebAuthn
// domain) a person registers a passkey on /account, signs out, signs in to an
// application with the passkey alone (no password typed) and the ID token says
// so (amr hwk + mfa, acr mfa); then with the password and the passkey as the
// second step (amr pwd + hwk + mfa); a removed passkey no longer signs in although
// the authenticator still holds it. The authenticator's private key is read
// back and looked for in every file of the embedded database: it is not there.
// WebAuthn refuses IP-address origins, so this server's issuer is
// http://localhost:<port>.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startRedirectTarget } from '../support/redirect-target.ts';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.ts';
import { pkcePair, tokenRequest } from '../support/oauth.ts';
import { launchChromium } from '../support/chromium.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 812 };
const USER = { username: 'ada', password: 'ada-has-a-long-password' };


/** Every file under dir, as bytes. */
function filesUnder(dir: string): Array<{ path: string; bytes: Buffer }> {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return { path, bytes: readFileSync(path) };
    });
}

/** A virtual platform authenticator that keeps discoverable credentials and verifies the person (as a fingerprint would). */
async function addAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  return { cdp, authenticatorId };
}

const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;

describe('passkeys in a real browser (virtual authenticator)', () => {
  let server: TestServer;
  let browser: Browser;
  let target: Awaited<ReturnType<typeof startRedirectTarget>>;
  let client: { clientId: string; clientSecret?: string };
  let dataDir: string;
  let stopped = false;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    [server, target] = await Promise.all([startTestServer({ database: 'file', issuerHost: 'localhost' }), startRedirectTarget()]);
    dataDir = join(server.dir, 'data');
    client = await server.createClient({
      name: 'Photo Album',
      grantTypes: ['authorization_code'],
      redirectUris: [target.redirectUri],
      scopes: ['openid', 'profile'],
    });
    await server.createUser(USER);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => target?.server.close(resolve));
    if (!stopped) await server?.stop();
    else rmSync(server.dir, { recursive: true, force: true });
  });

  /** A context that records console errors and page errors (a CSP violation is one). */
  async function newPage(viewport = DESKTOP): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport });
    const problems: string[] = [];
    context.on('page', (p) => {
      p.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
      p.on('pageerror', (error) => problems.push(error.message));
    });
    const page = await context.newPage();
    return { context, page, problems };
  }

  async function expectNoHorizontalOverflow(page: Page) {
    const { scrollWidth, innerWidth } = await page.evaluate(
      '({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })',
    ) as { scrollWidth: number; innerWidth: number };
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
  }

  /** Starts a code flow with PKCE for Photo Album; returns how to finish it once the browser is at the redirect URI. */
  async function startCodeFlow(page: Page) {
    const { verifier, challenge } = pkcePair();
    const url = new URL('/auth', server.issuer);
    for (const [key, value] of Object.entries({
      client_id: client.clientId, response_type: 'code', redirect_uri: target.redirectUri,
      scope: 'openid profile', state: 'passkey', code_challenge: challenge, code_challenge_method: 'S256',
    })) url.searchParams.set(key, value);
    await page.goto(url.href);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    return async () => {
      const code = new URL(page.url()).searchParams.get('code')!;
      const tokens = await tokenRequest(server.issuer, { grant_type: 'authorization_code', code, redirect_uri: target.redirectUri, code_verifier: verifier }, client);
      expect(tokens.status).toBe(200);
      return payloadOf(tokens.body.id_token as string);
    };
  }

  /** Past the consent page if the app asks for it, at the app's redirect URI. */
  async function landAtApp(page: Page) {
    const atApp = (url: URL) => url.href.startsWith(target.redirectUri);
    await Promise.race([page.waitForURL(atApp), page.getByRole('button', { name: 'Allow' }).waitFor()]);
    if (!atApp(new URL(page.url()))) {
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(atApp);
    }
  }

  async function signOutOfAccount(page: Page) {
    await page.goto(new URL('/account', server.issuer).href);
    await page.getByRole('button', { name: 'Sign out of your account' }).click();
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
  }

  test('without JavaScript no passkey control shows: the sign-in page and /account work with the password alone', async () => {
    const context = await browser.newContext({ viewport: DESKTOP, javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await startCodeFlow(page);
      await expect(page.getByRole('button', { name: 'Sign in with a passkey', includeHidden: true }).count()).resolves.toBe(1);
      await expect(page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible()).resolves.toBe(false);
      await page.goto(new URL('/account', server.issuer).href);
      await page.getByLabel('Username').fill(USER.username);
      await page.getByLabel('Password').fill(USER.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Passkeys' }).waitFor();
      await expect(page.getByRole('button', { name: 'Add a passkey' }).isVisible()).resolves.toBe(false);
      await expect(page.getByLabel('Passkey name').isVisible()).resolves.toBe(false);
    } finally {
      await context.close();
    }
  });

  test('register a passkey on /account, sign in with it alone (amr hwk + mfa), as the second factor (pwd + hwk + mfa), remove it: it no longer signs in; no private key at rest', async () => {
    const { context, page, problems } = await newPage();
    try {
      const { cdp, authenticatorId } = await addAuthenticator(page);

      // /account, signed in with the password (the passkey does not exist yet)
      await page.goto(new URL('/account', server.issuer).href);
      await page.getByLabel('Username').fill(USER.username);
      await page.getByLabel('Password').fill(USER.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Your account' }).waitFor();
      await page.getByRole('heading', { name: 'Passkeys' }).waitFor();
      await expect(page.getByText('You have no passkeys yet.').isVisible()).resolves.toBe(true);

      await page.getByLabel('Passkey name').fill('Work laptop');
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await page.getByText('Your passkey is added.').waitFor();
      await expect(page.getByRole('heading', { name: 'Work laptop' }).isVisible()).resolves.toBe(true);
      await expect(page.getByRole('button', { name: 'Remove passkey Work laptop' }).isVisible()).resolves.toBe(true);
      await expect(page.getByText(/Added .* UTC, not used yet/).isVisible()).resolves.toBe(true);

      await page.screenshot({ path: `${SCREENSHOTS}passkeys-account-desktop.png`, fullPage: true });
      await page.setViewportSize(PHONE);
      await expectNoHorizontalOverflow(page);
      await page.screenshot({ path: `${SCREENSHOTS}passkeys-account-phone.png`, fullPage: true });
      await page.setViewportSize(DESKTOP);

      // the authenticator's side: one discoverable credential, its private key known to the test only
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials).toHaveLength(1);
      expect(credentials[0].isResidentCredential).toBe(true);
      const pkcs8 = Buffer.from(credentials[0].privateKey, 'base64');
      const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
      expect(privateKey.asymmetricKeyType).toBe('ec'); // ES256: the algorithms Tessera offers (src/mfa/passkeys.ts)
      const scalar = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
      const credentialId = Buffer.from(credentials[0].credentialId, 'base64').toString('base64url');

      // stored: the credential id and public key; the user handle is neither the username nor the account id
      const rows = await server.db.knex('webauthn_credentials').select('*');
      expect(rows).toHaveLength(1);
      expect(rows[0].id).toBe(credentialId);
      const userHandle = Buffer.from(credentials[0].userHandle ?? '', 'base64');
      expect(userHandle).toHaveLength(32);
      expect(rows[0].user_handle).toBe(userHandle.toString('base64url'));
      const [{ id: accountId }] = await server.db.knex('accounts').where({ username: USER.username }).select('id');
      expect(userHandle.toString('utf8')).not.toContain(USER.username);
      expect(userHandle.toString('utf8')).not.toContain(accountId);

      // sign out, then sign in to the app with the passkey: no username, no password
      await signOutOfAccount(page);
      const finish = await startCodeFlow(page);
      await expectNoHorizontalOverflow(page);
      await page.screenshot({ path: `${SCREENSHOTS}passkeys-signin-desktop.png`, fullPage: true });
      await page.setViewportSize(PHONE);
      await expectNoHorizontalOverflow(page);
      await page.screenshot({ path: `${SCREENSHOTS}passkeys-signin-phone.png`, fullPage: true });
      await page.setViewportSize(DESKTOP);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await landAtApp(page);
      await expect(page.getByLabel('Password').count()).resolves.toBe(0);
      const idToken = await finish();
      expect(idToken.sub).toBe(accountId);
      expect(idToken.amr).toEqual(['hwk', 'mfa']);
      expect(idToken.acr).toBe('mfa');

      // the counter moved and the passkey was used
      const [used] = await server.db.knex('webauthn_credentials').select('sign_count', 'last_used_at');
      expect(Number(used.sign_count)).toBeGreaterThan(0);
      expect(used.last_used_at).not.toBeNull();

      // a passkey as the second factor: the password, then "Use a passkey" on the second step
      await signOutOfAccount(page);
      const finishSecond = await startCodeFlow(page);
      await page.getByLabel('Username').fill(USER.username);
      await page.getByLabel('Password').fill(USER.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      await page.getByRole('button', { name: 'Use a passkey' }).waitFor();
      await expectNoHorizontalOverflow(page);
      await page.screenshot({ path: `${SCREENSHOTS}passkeys-second-step-desktop.png`, fullPage: true });
      await page.setViewportSize(PHONE);
      await expectNoHorizontalOverflow(page);
      await page.screenshot({ path: `${SCREENSHOTS}passkeys-second-step-phone.png`, fullPage: true });
      await page.setViewportSize(DESKTOP);
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await landAtApp(page);
      const secondFactorToken = await finishSecond();
      expect(secondFactorToken.sub).toBe(accountId);
      expect(secondFactorToken.amr).toEqual(['pwd', 'hwk', 'mfa']);
      expect(secondFactorToken.acr).toBe('mfa');

      // remove it on /account (the session is the passkey's)
      await page.goto(new URL('/account', server.issuer).href);
      await expect(page.getByText(/last used .* UTC/).isVisible()).resolves.toBe(true);
      await page.getByRole('button', { name: 'Remove passkey Work laptop' }).click();
      await page.getByText('The passkey is removed.', { exact: false }).waitFor();
      await expect(page.getByRole('heading', { name: 'Work laptop' }).count()).resolves.toBe(0);
      await signOutOfAccount(page);

      // the authenticator still holds it; the server refuses it
      expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials).toHaveLength(1);
      await startCodeFlow(page);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await expect(page.getByRole('alert').textContent()).resolves.toContain('That passkey did not sign you in.');
      await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
      expect(page.url()).not.toContain(target.redirectUri);

      expect(problems).toEqual([]);

      // at rest: no byte of the private key in any file of the embedded database (after a clean shutdown)
      await server.stop({ keep: true });
      stopped = true;
      const files = filesUnder(dataDir);
      expect(files.length).toBeGreaterThan(0);
      const needles = [pkcs8, scalar, Buffer.from(credentials[0].privateKey), Buffer.from(pkcs8.toString('base64url')), Buffer.from(scalar.toString('base64url')), Buffer.from(scalar.toString('base64'))];
      for (const { path, bytes } of files) {
        for (const needle of needles) expect({ path, found: bytes.includes(needle) }).toEqual({ path, found: false });
      }
      // and the search does see what is stored: the credential id is in the files (the audit log keeps it)
      expect(files.some(({ bytes }) => bytes.includes(Buffer.from(credentialId)))).toBe(true);
    } finally {
      await context.close();
    }
  });
});
