/*
 * CORS as a real browser enforces it (headless Chromium): a page on an origin
 * the client registered reads the token endpoint's answer; the same script on
 * another origin cannot (fetch fails), and neither can read userinfo.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const PAGE = '<!doctype html><html><head><title>app</title></head><body>app</body></html>';

/** A page server on loopback: reached as http://localhost:port and as http://127.0.0.1:port, two origins. */
async function pageServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(PAGE); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

describe('CORS in Chromium', () => {
  let tessera: TestServer;
  let browser: Browser;
  let pages: { server: Server; port: number };
  let client: { clientId: string; clientSecret: string };
  let allowedOrigin: string;
  let otherOrigin: string;

  beforeAll(async () => {
    tessera = await startTestServer();
    pages = await pageServer();
    allowedOrigin = `http://localhost:${pages.port}`;
    otherOrigin = `http://127.0.0.1:${pages.port}`;
    await tessera.services.resources.create({ identifier: 'https://api.browser.test', scopes: ['read'] });
    const created = await tessera.createClient({ name: 'browser demo', grantTypes: ['client_credentials'], scopes: ['read'], tokenEndpointAuthMethod: 'client_secret_post', webOrigins: [allowedOrigin] });
    client = { clientId: created.clientId, clientSecret: created.clientSecret! };
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => pages?.server.close(resolve));
    await tessera?.stop();
  });

  /** From a page at `origin`, POSTs a client_credentials request to the token endpoint; what the script could read. */
  async function tokenRequestFrom(origin: string): Promise<{ ok: true; status: number; tokenType?: string } | { ok: false; error: string }> {
    const page = await browser.newPage();
    try {
      await page.goto(`${origin}/`);
      return await page.evaluate(async ({ url, clientId, clientSecret }) => {
        try {
          const body = new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://api.browser.test', scope: 'read', client_id: clientId, client_secret: clientSecret });
          const res = await fetch(url, { method: 'POST', body });
          const json = await res.json() as { token_type?: string };
          return { ok: true as const, status: res.status, tokenType: json.token_type };
        } catch (error) {
          return { ok: false as const, error: String(error) };
        }
      }, { url: `${tessera.url}/token`, ...client });
    } finally {
      await page.close();
    }
  }

  test('the registered origin reads the token answer; another origin cannot', async () => {
    expect(await tokenRequestFrom(allowedOrigin)).toEqual({ ok: true, status: 200, tokenType: 'Bearer' });
    expect(await tokenRequestFrom(otherOrigin)).toEqual({ ok: false, error: expect.stringMatching(/TypeError: Failed to fetch/) });
  }, 30_000);

  test('the admin API cannot be read from any page', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${allowedOrigin}/`);
      const answer = await page.evaluate(async (url) => {
        try { return String((await fetch(url)).status); } catch (error) { return String(error); }
      }, `${tessera.url}/admin/v1/openapi.json`);
      expect(answer).toMatch(/TypeError: Failed to fetch/);
    } finally {
      await page.close();
    }
  }, 30_000);
});
