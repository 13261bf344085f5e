// The pages of the second step in headless Chromium, at desktop and phone
// width: setting up TOTP inside a sign-in to a client that requires it (QR
// code and key, "Turn on", the recovery codes, "Continue"), then the second
// step of the next sign-in and its recovery-code variant. Each page: found by
// its labels and button names, no horizontal scrolling, no console error (a
// CSP violation is one), a screenshot in test-output/screenshots/.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startRedirectTarget } from '../support/redirect-target.ts';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { Secret, TOTP } from 'otpauth';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorizationRequest } from '../support/oauth.ts';
import { launchChromium } from '../support/chromium.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));
const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 375, height: 812 },
} as const;


describe('the second-step pages in a real browser', () => {
  let server: TestServer;
  let browser: Browser;
  let target: Awaited<ReturnType<typeof startRedirectTarget>>;
  let client: { clientId: string };

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    [server, target] = await Promise.all([startTestServer(), startRedirectTarget()]);
    client = await server.createClient({
      name: 'Payroll', grantTypes: ['authorization_code'], redirectUris: [target.redirectUri],
      scopes: ['openid'], firstParty: true, requireMfa: true,
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => target?.server.close(resolve));
    await server?.stop();
  });

  async function expectFitsAndShoot(page: Page, name: string) {
    const { scrollWidth, innerWidth } = await page.evaluate(
      '({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })',
    ) as { scrollWidth: number; innerWidth: number };
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
    await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
  }

  for (const [width, viewport] of Object.entries(VIEWPORTS)) {
    test(`at ${width} width: set up in the flow, then the second step and its recovery-code variant`, async () => {
      const person = { username: `pages-${width}`, password: `pages-${width}-password` };
      await server.createUser(person);
      const phone = width === 'phone';
      const context = await browser.newContext({ viewport, isMobile: phone, hasTouch: phone });
      const problems: string[] = [];
      context.on('page', (p) => {
        p.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
        p.on('pageerror', (error) => problems.push(error.message));
      });
      try {
        const page = await context.newPage();
        const signIn = async () => {
          const { url } = authorizationRequest({ baseUrl: server.url, clientId: client.clientId, redirectUri: target.redirectUri, scope: 'openid' });
          await page.goto(url);
          await page.getByLabel('Username').fill(person.username);
          await page.getByLabel('Password').fill(person.password);
          await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        };

        await signIn();
        await page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor();
        await expect(page.getByRole('img', { name: /QR code/ }).isVisible()).resolves.toBe(true);
        const secret = (await page.locator('#totp-secret').textContent())!.replace(/\s+/g, '');
        await expectFitsAndShoot(page, `enroll-${width}`);
        const totp = new TOTP({ secret: Secret.fromBase32(secret) });

        await page.getByLabel('Code', { exact: true }).fill('000000' === totp.generate() ? '111111' : '000000');
        await page.getByRole('button', { name: 'Turn on' }).click();
        await page.getByRole('alert').waitFor();
        await expect(page.getByRole('alert').textContent()).resolves.toBe('That code is not right.');
        await expectFitsAndShoot(page, `enroll-wrong-code-${width}`);

        await page.getByLabel('Code', { exact: true }).fill(totp.generate({ timestamp: Date.now() - 30_000 }));
        await page.getByRole('button', { name: 'Turn on' }).click();
        await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
        await expect(page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').count()).resolves.toBe(10);
        await expectFitsAndShoot(page, `enroll-recovery-codes-${width}`);
        await Promise.all([
          page.waitForURL((url) => url.href.startsWith(target.redirectUri)),
          page.getByRole('button', { name: 'Continue' }).click(),
        ]);

        // a new browser session: the password, then the second step
        await context.clearCookies();
        await signIn();
        await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
        await expect(page.getByLabel('Code', { exact: true }).getAttribute('autocomplete')).resolves.toBe('one-time-code');
        await expect(page.getByRole('button', { name: 'Verify' }).isVisible()).resolves.toBe(true);
        await expectFitsAndShoot(page, `second-factor-${width}`);

        await page.getByRole('link', { name: 'Use a recovery code' }).click();
        await page.getByLabel('Recovery code').waitFor();
        await expectFitsAndShoot(page, `second-factor-recovery-code-${width}`);
        await page.getByLabel('Recovery code').fill('not-a-code');
        await page.getByRole('button', { name: 'Verify' }).click();
        await page.getByRole('alert').waitFor();
        await expect(page.getByLabel('Recovery code').isVisible()).resolves.toBe(true);
        await page.getByRole('link', { name: 'Use a code from your authenticator app' }).click();
        await page.getByLabel('Code', { exact: true }).fill(totp.generate());
        await Promise.all([
          page.waitForURL((url) => url.href.startsWith(target.redirectUri)),
          page.getByRole('button', { name: 'Verify' }).click(),
        ]);
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
