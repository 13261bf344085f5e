// Issue 2, "done means" 4: a person in a real browser (headless Chromium)
// signs in through the pages, by their labels and button names, and lands on
// the client's redirect_uri with a code. Screenshots of the login and consent
// pages at desktop and phone width go to test-output/screenshots/.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startRedirectTarget } from '../support/redirect-target.ts';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.ts';
import { pkcePair, tokenRequest } from '../support/oauth.ts';
import { launchChromium } from '../support/chromium.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));
const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;


describe('signing in with a real browser', () => {
  let server: TestServer;
  let browser: Browser;
  let target: Awaited<ReturnType<typeof startRedirectTarget>>;
  let client: { clientId: string; clientSecret?: string };

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    [server, target] = await Promise.all([startTestServer(), startRedirectTarget()]);
    await server.createUser({ username: 'maria', password: 'maria-has-a-long-password' });
    client = await server.createClient({
      name: 'Photo Album',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [target.redirectUri],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => target?.server.close(resolve));
    await server?.stop();
  });

  /** Nothing wider than the viewport (no sideways scrolling on a phone). */
  async function expectNoHorizontalOverflow(page: Page) {
    // a string: this code runs in the page (the project's TypeScript has no DOM types)
    const { scrollWidth, innerWidth } = await page.evaluate(
      '({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })',
    ) as { scrollWidth: number; innerWidth: number };
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
  }

  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    test(`at ${name} width (${viewport.width}x${viewport.height}): sign in, allow, land on redirect_uri with a code`, async () => {
      const context = await browser.newContext({ viewport, isMobile: name === 'phone', hasTouch: name === 'phone' });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        // any console error counts, a 404 for /favicon.ico included (the server answers it with 204)
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(error.message));
      try {
        const { verifier, challenge } = pkcePair();
        const authorizationUrl = new URL('/auth', server.url);
        for (const [key, value] of Object.entries({
          client_id: client.clientId, response_type: 'code', redirect_uri: target.redirectUri,
          scope: 'openid profile email offline_access', prompt: 'consent', state: `state-${name}`,
          code_challenge: challenge, code_challenge_method: 'S256',
        })) authorizationUrl.searchParams.set(key, value);

        await page.goto(authorizationUrl.href);
        await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
        await expectNoHorizontalOverflow(page);
        await page.screenshot({ path: `${SCREENSHOTS}login-${name}.png`, fullPage: true });

        // a wrong password first: the page says so and keeps the username
        await page.getByLabel('Username').fill('maria');
        await page.getByLabel('Password').fill('not-her-password');
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await expect(page.getByRole('alert').textContent()).resolves.toContain('Incorrect username or password');
        await expect(page.getByLabel('Username').inputValue()).resolves.toBe('maria');
        await page.screenshot({ path: `${SCREENSHOTS}login-error-${name}.png`, fullPage: true });

        await page.getByLabel('Password').fill('maria-has-a-long-password');
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();

        await page.getByRole('button', { name: 'Allow' }).waitFor();
        await expect(page.getByRole('heading', { name: 'Allow access?' }).isVisible()).resolves.toBe(true);
        await expect(page.getByText('Photo Album').isVisible()).resolves.toBe(true);
        await expect(page.getByRole('button', { name: 'Deny' }).isVisible()).resolves.toBe(true);
        await expectNoHorizontalOverflow(page);
        await page.screenshot({ path: `${SCREENSHOTS}consent-${name}.png`, fullPage: true });

        await Promise.all([
          page.waitForURL((url) => url.href.startsWith(target.redirectUri)),
          page.getByRole('button', { name: 'Allow' }).click(),
        ]);
        const landed = new URL(page.url());
        expect(landed.searchParams.get('state')).toBe(`state-${name}`);
        expect(landed.searchParams.get('iss')).toBe(server.issuer);
        const code = landed.searchParams.get('code');
        expect(code).toEqual(expect.any(String));

        // the code is good: the client redeems it
        const tokens = await tokenRequest(server.url, {
          grant_type: 'authorization_code', code: code!, redirect_uri: target.redirectUri, code_verifier: verifier,
        }, client);
        expect(tokens.status).toBe(200);
        expect(tokens.body.id_token).toEqual(expect.any(String));

        // no CSP violation (the inline stylesheet is allowed by its hash), no script error
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
