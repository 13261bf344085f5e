// Issue 12, "done means" 1, in headless Chromium: set up an authenticator app
// on /account (the key read from the page text AND from the QR code, decoded
// from a screenshot of the drawn SVG: both must agree), sign out, sign in to a
// real client with the password and a code computed by an independent TOTP
// implementation (otpauth) → tokens whose ID token says amr pwd+otp+mfa, acr
// mfa. A wrong code is refused; the same code twice is refused; a recovery
// code works once and only once.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startRedirectTarget } from '../support/redirect-target.ts';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import * as OTPAuth from 'otpauth';
import jsqrModule from 'jsqr';
import { PNG } from 'pngjs';
import { startTestServer, type TestServer } from '../support/server.ts';
import { pkcePair, tokenRequest } from '../support/oauth.ts';
import { launchChromium } from '../support/chromium.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));
const up = (await postgresUp()) && (await redisUp());

// jsqr is CommonJS: Node's import gives module.exports (the function), its types a namespace with `default`
type Decode = typeof jsqrModule.default;
const jsQR: Decode = (jsqrModule as unknown as { default?: Decode }).default ?? (jsqrModule as unknown as Decode);


function claimsOf(jwt: unknown): Record<string, unknown> {
  if (typeof jwt !== 'string') throw new Error('no ID token');
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

describeWithService('Postgres and Redis', up)('TOTP sign-in in a real browser', () => {
  let server: TestServer;
  let browser: Browser;
  let target: Awaited<ReturnType<typeof startRedirectTarget>>;
  let client: { clientId: string; clientSecret?: string };

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    [server, target] = await Promise.all([startTestServer({ database: 'postgres', redis: true }), startRedirectTarget()]);
    // an ordinary third-party client: it does not require a second factor, the person's own set-up does
    client = await server.createClient({
      name: 'Photo Album', grantTypes: ['authorization_code'], redirectUris: [target.redirectUri], scopes: ['openid'],
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => target?.server.close(resolve));
    await server?.stop();
  });

  test('set up on /account, then password + code; wrong and replayed codes refused; a recovery code once', async () => {
    const person = { username: 'totp-tess', password: 'totp-tess-password' };
    await server.createUser(person);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const problems: string[] = [];
    context.on('page', (p) => {
      p.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
      p.on('pageerror', (error) => problems.push(error.message));
    });
    const page = await context.newPage();

    const fillPassword = async () => {
      await page.getByLabel('Username').fill(person.username);
      await page.getByLabel('Password').fill(person.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    };

    // 1. /account: signed in with the password, an authenticator app set up
    await page.goto(new URL('/account', server.url).href);
    await fillPassword();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await page.getByRole('button', { name: 'Set up authenticator app' }).click();
    await page.getByRole('heading', { name: 'Set up an authenticator app' }).waitFor();

    const secretFromText = (await page.locator('#totp-secret').textContent())!.replace(/\s+/g, '');
    const png = PNG.sync.read(await page.getByRole('img', { name: 'QR code to scan with your authenticator app' }).screenshot());
    const uri = jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data;
    expect(uri).toMatch(/^otpauth:\/\/totp\//);
    const totp = OTPAuth.URI.parse(uri!) as OTPAuth.TOTP;
    expect(totp).toBeInstanceOf(OTPAuth.TOTP);
    // the QR code and the text give the same key
    expect(totp.secret.base32).toBe(secretFromText);
    expect(new URL(uri!).searchParams.get('secret')).toBe(secretFromText);
    expect(totp.issuer).not.toBe('');

    // codes of distinct time steps, each a step later than the last one used (±1 step is accepted as skew)
    const codeAt = (steps: number) => totp.generate({ timestamp: Date.now() + steps * totp.period * 1000 });
    await page.getByLabel('Code', { exact: true }).fill(codeAt(-1));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    const recoveryCodes = (await page.locator('#recovery-codes li').allTextContents()).map((code) => code.trim());
    expect(recoveryCodes).toHaveLength(10);

    // 2. signed out
    await page.goto(new URL('/account', server.url).href);
    await page.getByRole('button', { name: 'Sign out of your account' }).click();
    await page.waitForLoadState();

    /** An authorization request of Photo Album, the password typed: the second step (or the app, when none is asked). */
    async function toSecondStep(): Promise<string> {
      const { verifier, challenge } = pkcePair();
      const url = new URL('/auth', server.url);
      for (const [key, value] of Object.entries({
        client_id: client.clientId, response_type: 'code', redirect_uri: target.redirectUri, scope: 'openid', state: 'st',
        code_challenge: challenge, code_challenge_method: 'S256',
      })) url.searchParams.set(key, value);
      await page.goto(url.href);
      await fillPassword();
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      return verifier;
    }

    async function submitCode(label: 'Code' | 'Recovery code', code: string) {
      await page.getByLabel(label, { exact: true }).fill(code);
      await page.getByRole('button', { name: 'Verify' }).click();
    }

    async function expectRefused(label: 'Code' | 'Recovery code') {
      await page.getByRole('alert').waitFor();
      await expect(page.getByRole('alert').textContent()).resolves.toBe('That code is not right.');
      await expect(page.getByLabel(label, { exact: true }).isVisible()).resolves.toBe(true);
      expect(page.url().startsWith(target.redirectUri)).toBe(false);
    }

    /** After the second step: the consent page (a third-party app, a new session), then the app. */
    async function arriveAndExchange(verifier: string) {
      await page.getByRole('button', { name: 'Allow' }).waitFor();
      await Promise.all([
        page.waitForURL((url) => url.href.startsWith(target.redirectUri)),
        page.getByRole('button', { name: 'Allow' }).click(),
      ]);
      const code = new URL(page.url()).searchParams.get('code')!;
      const tokens = await tokenRequest(server.url, { grant_type: 'authorization_code', code, redirect_uri: target.redirectUri, code_verifier: verifier }, client);
      expect(tokens.status).toBe(200);
      return claimsOf(tokens.body.id_token);
    }

    const signOut = () => context.clearCookies();

    // 3. password + a code → tokens that say two factors
    let verifier = await toSecondStep();
    // a wrong code is refused (a code of no step near now)
    const wrong = String((Number(codeAt(0)) + 500_000) % 1_000_000).padStart(6, '0');
    await submitCode('Code', wrong);
    await expectRefused('Code');
    const current = codeAt(0);
    await submitCode('Code', current);
    expect(await arriveAndExchange(verifier)).toMatchObject({ acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] });

    // 4. the same code again, in a new sign-in: refused
    await signOut();
    verifier = await toSecondStep();
    await submitCode('Code', current);
    await expectRefused('Code');

    // 5. a recovery code instead: once
    await page.getByRole('link', { name: 'Use a recovery code' }).click();
    await submitCode('Recovery code', recoveryCodes[0]);
    expect(await arriveAndExchange(verifier)).toMatchObject({ acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] });

    // 6. and not twice; another way still works
    await signOut();
    verifier = await toSecondStep();
    await page.getByRole('link', { name: 'Use a recovery code' }).click();
    await submitCode('Recovery code', recoveryCodes[0]);
    await expectRefused('Recovery code');
    await submitCode('Recovery code', recoveryCodes[1]);
    expect(await arriveAndExchange(verifier)).toMatchObject({ acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] });

    expect(problems).toEqual([]);
    await context.close();
  });
});
