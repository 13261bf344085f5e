// Absent means nothing: without CLIENT_ID_METADATA_DOCUMENTS a URL client_id is
// an unknown client, nothing is fetched, and discovery says nothing about
// documents; with it, discovery advertises client_id_metadata_document_supported
// (RFC 8414 metadata, the same at both well-known paths). The documents
// themselves, end to end: test/e2e/mcp.test.ts.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import { startTestServer, type TestServer } from '../support/server.ts';
import { BrowserAgent } from '../support/browser-agent.ts';
import { authorizationRequest, tokenRequest } from '../support/oauth.ts';

describe('client ID metadata documents: off unless switched on', () => {
  let off: TestServer;
  let on: TestServer;
  let listener: Server;
  let connections = 0;
  let documentUrl: string;

  beforeAll(async () => {
    // whatever listens here would be asked for the document: it counts connections
    listener = createServer((socket) => { connections++; socket.destroy(); });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    documentUrl = `https://127.0.0.1:${(listener.address() as { port: number }).port}/client.json`;
    [off, on] = await Promise.all([
      startTestServer(),
      startTestServer({ config: { clientMetadataDocuments: { enabled: true } } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([off?.stop(), on?.stop()]);
    await new Promise((resolve) => listener?.close(resolve));
  });

  test('off (absent): discovery does not advertise documents; a URL client_id is an unknown client; nothing is fetched', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const metadata = await (await fetch(`${off.url}${path}`)).json() as Record<string, unknown>;
      expect(metadata.client_id_metadata_document_supported).toBeUndefined();
    }
    const { url } = authorizationRequest({ baseUrl: off.url, clientId: documentUrl, redirectUri: 'https://app.example.test/cb', scope: 'openid' });
    const page = await new BrowserAgent().request(url);
    expect(page.status).toBe(400);
    expect(page.text).toMatch(/client is invalid|client not found|invalid_client/);
    const token = await tokenRequest(off.url, { grant_type: 'authorization_code', code: 'x', redirect_uri: 'https://app.example.test/cb', code_verifier: 'v'.repeat(43) }, { clientId: documentUrl });
    expect(token.body.error).toBe('invalid_client');
    expect(connections).toBe(0);
  });

  test('on: RFC 8414 metadata advertises client_id_metadata_document_supported, S256 only, code only; loopback still refused without the development flag', async () => {
    const oauthMetadata = await (await fetch(`${on.url}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
    const openidMetadata = await (await fetch(`${on.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(oauthMetadata).toEqual(openidMetadata);
    expect(oauthMetadata).toMatchObject({
      issuer: on.issuer, client_id_metadata_document_supported: true, code_challenge_methods_supported: ['S256'], response_types_supported: ['code'],
    });
    const { url } = authorizationRequest({ baseUrl: on.url, clientId: documentUrl, redirectUri: 'https://app.example.test/cb', scope: 'openid' });
    const page = await new BrowserAgent().request(url);
    expect(page.status).toBe(400);
    expect(page.text).toMatch(/its address is not a public one/);
    expect(connections).toBe(0);
  });
});
