// Two-step verification on /account in headless Chromium, at desktop and
// phone width: set up an authenticator app (the QR code in the screenshot
// decodes to the otpauth URI of the key shown as text; codes are computed by
// an independent implementation), a wrong code refused, the recovery codes
// shown once, new recovery codes, a new app (after a current code), turn it
// off with a recovery code. No console
// errors (a CSP violation is one), no horizontal scrolling. Screenshots go to
// test-output/screenshots/two-step-*.png.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import * as OTPAuth from 'otpauth';
import jsqrModule from 'jsqr';
import { PNG } from 'pngjs';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchChromium } from '../support/chromium.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));
const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 375, height: 812 },
} as const;

const codeAt = (secret: string, seconds: number) => new OTPAuth.TOTP({
  secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30,
}).generate({ timestamp: seconds * 1000 });
const nowSeconds = () => Date.now() / 1000;
// jsqr is CommonJS: Node's import gives module.exports (the function), its types a namespace with `default`
type Decode = typeof jsqrModule.default;
const jsQR: Decode = (jsqrModule as unknown as { default?: Decode }).default ?? (jsqrModule as unknown as Decode);

describe('two-step verification on /account in a real browser', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startTestServer({ database: 'memory' });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function expectNoHorizontalOverflow(page: Page) {
    const { scrollWidth, innerWidth } = await page.evaluate(
      '({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })',
    ) as { scrollWidth: number; innerWidth: number };
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
  }

  const shot = async (page: Page, name: string, viewport: string) => {
    await expectNoHorizontalOverflow(page);
    await page.screenshot({ path: `${SCREENSHOTS}two-step-${name}-${viewport}.png`, fullPage: true });
  };

  /** The QR code as the browser drew it, decoded. */
  async function decodeQr(page: Page): Promise<string | undefined> {
    const png = PNG.sync.read(await page.getByRole('img', { name: 'QR code to scan with your authenticator app' }).screenshot());
    return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data;
  }

  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    test(`at ${name} width: set up, recovery codes once, new codes, turn off`, async () => {
      const username = `two-step-${name}`;
      const password = `${username}-password`;
      await server.createUser({ username, password });
      const phone = name === 'phone';
      const context = await browser.newContext({ viewport, isMobile: phone, hasTouch: phone });
      const problems: string[] = [];
      context.on('page', (p) => {
        p.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
        p.on('pageerror', (error) => problems.push(error.message));
      });
      try {
        const page = await context.newPage();
        await page.goto(new URL('/account', server.url).href);
        await page.getByLabel('Username').fill(username);
        await page.getByLabel('Password').fill(password);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.getByRole('heading', { name: 'Your account' }).waitFor();
        await expect(page.getByRole('heading', { name: 'Two-step verification' }).isVisible()).resolves.toBe(true);
        await expect(page.locator('#totp-status').textContent()).resolves.toBe('Authenticator app: off.');
        await shot(page, 'account-off', name);

        // set up: the QR code drawn by the browser carries the key shown as text
        await page.getByRole('button', { name: 'Set up authenticator app' }).click();
        await page.getByRole('heading', { name: 'Set up an authenticator app' }).waitFor();
        const secret = (await page.locator('#totp-secret').textContent())!.replace(/\s+/g, '');
        expect(secret).toMatch(/^[A-Z2-7]{32}$/);
        const uri = await decodeQr(page);
        expect(uri).toBeDefined();
        const fromQr = OTPAuth.URI.parse(uri!) as OTPAuth.TOTP;
        expect(fromQr.secret.base32.replace(/=+$/, '')).toBe(secret);
        expect(fromQr.label).toBe(username);
        expect(fromQr.issuer).toBe('127.0.0.1');
        expect([fromQr.algorithm, fromQr.digits, fromQr.period]).toEqual(['SHA1', 6, 30]);
        const code = page.getByLabel('Code', { exact: true });
        await expect(code.getAttribute('inputmode')).resolves.toBe('numeric');
        await expect(code.getAttribute('autocomplete')).resolves.toBe('one-time-code');
        await shot(page, 'setup', name);

        // a wrong code: the page again, with what is wrong
        const live = [-30, 0, 30].map((o) => codeAt(secret, nowSeconds() + o));
        await code.fill(['000000', '111111', '222222'].find((c) => !live.includes(c))!);
        await page.getByRole('button', { name: 'Turn on' }).click();
        await page.getByRole('alert').waitFor();
        await expect(page.getByRole('alert').textContent()).resolves.toMatch(/^That code is not right/);
        await expect(page.locator('#totp-secret').textContent()).resolves.toBe(secret.match(/.{4}/g)!.join(' '));
        await shot(page, 'setup-wrong-code', name);

        // the right one: the recovery codes, once
        await page.getByLabel('Code', { exact: true }).fill(codeAt(secret, nowSeconds()));
        await page.getByRole('button', { name: 'Turn on' }).click();
        await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
        const codes = await page.getByRole('list', { name: 'Recovery codes' }).locator('code').allTextContents();
        expect(codes).toHaveLength(10);
        await shot(page, 'recovery-codes', name);
        await page.getByRole('link', { name: 'Done' }).click();
        await page.getByRole('heading', { name: 'Your account' }).waitFor();
        await expect(page.locator('#totp-status').textContent()).resolves.toBe('Authenticator app: on. 10 recovery codes left.');
        expect(await page.content()).not.toContain(codes[0]);
        await shot(page, 'account-on', name);

        // new recovery codes, with a recovery code
        await page.getByRole('link', { name: 'Create new recovery codes' }).click();
        await page.getByRole('heading', { name: 'Create new recovery codes' }).waitFor();
        await shot(page, 'new-recovery-codes', name);
        await page.getByLabel('Code', { exact: true }).fill(codes[0]);
        await page.getByRole('button', { name: 'Create new recovery codes' }).click();
        await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
        const fresh = await page.getByRole('list', { name: 'Recovery codes' }).locator('code').allTextContents();
        expect(fresh).toHaveLength(10);
        expect(fresh).not.toContain(codes[1]);
        await page.getByRole('link', { name: 'Done' }).click();

        // another app in place of this one: a current code (here a recovery code) first; then left half-way
        await page.getByRole('link', { name: 'Set up a new authenticator app' }).click();
        await page.getByRole('heading', { name: 'Set up a new authenticator app' }).waitFor();
        await shot(page, 'new-app', name);
        await page.getByLabel('Code', { exact: true }).fill(fresh[1]);
        await page.getByRole('button', { name: 'Continue' }).click();
        await page.getByRole('heading', { name: 'Set up an authenticator app' }).waitFor();
        await expect(page.getByText('Your current app keeps working until the new one is turned on.').isVisible()).resolves.toBe(true);
        expect((await page.locator('#totp-secret').textContent())!.replace(/\s+/g, '')).not.toBe(secret);
        await page.getByRole('link', { name: 'Cancel' }).click();
        await page.getByRole('heading', { name: 'Your account' }).waitFor();
        await expect(page.locator('#totp-status').textContent()).resolves.toBe('Authenticator app: on. 9 recovery codes left.');

        // turn off, with one of the new codes (an old one is refused first)
        await page.getByRole('link', { name: 'Turn off the authenticator app' }).click();
        await page.getByRole('heading', { name: 'Turn off the authenticator app' }).waitFor();
        await page.getByLabel('Code', { exact: true }).fill(codes[1]);
        await page.getByRole('button', { name: 'Turn off' }).click();
        await page.getByRole('alert').waitFor();
        await shot(page, 'turn-off-wrong-code', name);
        await page.getByLabel('Code', { exact: true }).fill(fresh[0]);
        await page.getByRole('button', { name: 'Turn off' }).click();
        await page.getByRole('heading', { name: 'Your account' }).waitFor();
        await expect(page.getByRole('status').textContent()).resolves.toContain('The authenticator app is off');
        await expect(page.locator('#totp-status').textContent()).resolves.toBe('Authenticator app: off.');
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
