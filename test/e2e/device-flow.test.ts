// Issue 14, the device authorization grant (RFC 8628), done means 1: an
// unmodified client library (openid-client v6) starts the flow and polls; a
// person in headless Chromium types the user code at /device, checks the
// confirmation page, signs in and allows; the library gets the tokens. A
// second poller of the same device code makes the library's poll too fast:
// it gets slow_down, backs off as RFC 8628 §3.5 asks, and still gets the
// tokens. On SQL token state and on Redis. Screenshots of the pages go to
// test-output/screenshots/.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer, type TestServerOptions } from '../support/server.ts';
import { launchChromium } from '../support/chromium.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const insecureOnLoopback = { execute: [oidc.allowInsecureRequests] };

function suite(name: string, options: TestServerOptions) {
  describe(name, () => {
    let server: TestServer;
    let browser: Browser;
    let tv: { clientId: string; clientSecret?: string };
    let userId: string;

    beforeAll(async () => {
      mkdirSync(SCREENSHOTS, { recursive: true });
      // a short interval: the library waits it (and 5 s more after slow_down) between polls
      server = await startTestServer({ ...options, config: { deviceFlow: { pollIntervalSeconds: 1 } } });
      userId = (await server.createUser({ username: 'ines', password: 'ines-watches-a-lot-of-tv' })).id;
      tv = await server.createClient({ name: 'Living Room TV', grantTypes: [DEVICE_GRANT, 'refresh_token'], scopes: ['openid', 'profile', 'offline_access'] });
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
      await server?.stop();
    });

    test('openid-client starts and polls; a person types the code, signs in and allows in Chromium; slow_down is honoured; tokens once', async () => {
      const polls: string[] = [];
      let raced = false;
      const config = await oidc.discovery(new URL(server.issuer), tv.clientId, {}, oidc.ClientSecretBasic(tv.clientSecret!), insecureOnLoopback);
      expect(config.serverMetadata().device_authorization_endpoint).toBe(`${server.issuer}/device/auth`);
      expect(config.serverMetadata().grant_types_supported).toContain(DEVICE_GRANT);
      // Every token request of the library goes through here. Before its first poll another poller
      // of the same device code goes first, so the library's own poll comes too soon.
      config[oidc.customFetch] = async (url, init) => {
        const isPoll = new URL(url).pathname === '/token';
        if (isPoll && !raced) {
          raced = true;
          const other = await fetch(url, { method: init.method, headers: init.headers, body: String(init.body) });
          polls.push(`other: ${(await other.json() as { error?: string }).error ?? other.status}`);
        }
        const response = await fetch(url, { ...init, body: init.body === undefined ? undefined : String(init.body) } as RequestInit);
        if (isPoll) polls.push(`library: ${response.status === 200 ? 'tokens' : (await response.clone().json() as { error?: string }).error}`);
        return response;
      };

      const started = await oidc.initiateDeviceAuthorization(config, { scope: 'openid profile offline_access' });
      expect(started.interval).toBe(1);
      const polling = oidc.pollDeviceAuthorizationGrant(config, started);

      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
      page.on('pageerror', (error) => problems.push(error.message));
      try {
        await page.goto(started.verification_uri);
        await expect(page.getByRole('heading', { name: 'Connect a device' }).isVisible()).resolves.toBe(true);
        await page.screenshot({ path: `${SCREENSHOTS}device-code.png`, fullPage: true });

        // a wrong code first: one message, the field keeps what was typed
        await page.getByLabel('Code').fill('bbbb-bbbb');
        await page.getByRole('button', { name: 'Continue' }).click();
        await expect(page.getByRole('alert').textContent()).resolves.toContain('That code is not valid');

        // the right one, in small letters without its dash
        await page.getByLabel('Code').fill(started.user_code.replace('-', '').toLowerCase());
        await page.getByRole('button', { name: 'Continue' }).click();
        await page.getByRole('heading', { name: 'Connect this device?' }).waitFor();
        await expect(page.getByText('Living Room TV').isVisible()).resolves.toBe(true);
        await expect(page.getByText(started.user_code, { exact: true }).isVisible()).resolves.toBe(true);
        await expect(page.getByRole('button', { name: 'Deny' }).isVisible()).resolves.toBe(true);
        await page.screenshot({ path: `${SCREENSHOTS}device-confirm.png`, fullPage: true });
        await page.getByRole('button', { name: 'Continue' }).click();

        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        await page.getByLabel('Username').fill('ines');
        await page.getByLabel('Password').fill('ines-watches-a-lot-of-tv');
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();

        await page.getByRole('button', { name: 'Allow' }).waitFor();
        await expect(page.getByText('Living Room TV').isVisible()).resolves.toBe(true);
        await page.getByRole('button', { name: 'Allow' }).click();

        await page.getByRole('heading', { name: 'Your device is connected' }).waitFor();
        await expect(page.getByText('You can close this window').isVisible()).resolves.toBe(true);
        await page.screenshot({ path: `${SCREENSHOTS}device-connected.png`, fullPage: true });
        // no CSP violation (no inline script or handler on these pages), no script error
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }

      const tokens = await polling;
      expect(tokens.access_token).toEqual(expect.any(String));
      expect(tokens.refresh_token).toEqual(expect.any(String));
      expect(tokens.claims()?.sub).toBe(userId);
      expect(tokens.claims()?.aud).toBe(tv.clientId);
      // the other poller took the slot, the library was told to slow down, backed off and got the tokens
      expect(polls[0]).toBe('other: authorization_pending');
      expect(polls[1]).toBe('library: slow_down');
      expect(polls.at(-1)).toBe('library: tokens');
      expect(polls.filter((p) => p.endsWith('tokens'))).toHaveLength(1);

      // the refresh token works like any other
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.access_token).toEqual(expect.any(String));
    });

    test('verification_uri_complete on a phone: the code arrives filled in, the person only confirms (here: Deny)', async () => {
      const config = await oidc.discovery(new URL(server.issuer), tv.clientId, {}, oidc.ClientSecretBasic(tv.clientSecret!), insecureOnLoopback);
      const started = await oidc.initiateDeviceAuthorization(config, { scope: 'openid profile' });
      const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
      try {
        await page.goto(started.verification_uri_complete!);
        await page.getByRole('heading', { name: 'Connect this device?' }).waitFor();
        await expect(page.getByText(started.user_code, { exact: true }).isVisible()).resolves.toBe(true);
        // nothing wider than the phone (a string: this runs in the page, the project has no DOM types)
        const { scrollWidth, innerWidth } = await page.evaluate('({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })') as { scrollWidth: number; innerWidth: number };
        expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
        await page.screenshot({ path: `${SCREENSHOTS}device-confirm-phone.png`, fullPage: true });
        await page.getByRole('button', { name: 'Deny' }).click();
        await expect(page.getByRole('status').textContent()).resolves.toContain('You denied the request');
        await page.screenshot({ path: `${SCREENSHOTS}device-denied-phone.png`, fullPage: true });
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
      await expect(oidc.pollDeviceAuthorizationGrant(config, started)).rejects.toMatchObject({ error: 'access_denied' });
    });
  });
}

suite('the device flow in a real browser with openid-client (embedded PGlite token state)', { database: 'memory' });
suite('the device flow in a real browser with openid-client (Postgres + Redis token state)', { database: 'postgres', redis: true });
