// Issue 14, "done means" 2, from outside: a native app (RFC 8252) registered
// with the CLI as `--application-type native --public --redirect-uris
// http://127.0.0.1/callback` completes the authorization code flow with PKCE
// against a real `node src/main.ts serve`, through a loopback listener on a
// port the test picks at run time (not the one registered), with oauth4webapi
// as the app. The sign-in goes through the pages, as a browser would.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { freePort, spawnTessera, waitForOk, type TesseraProcess } from '../support/process.ts';
import { runTesseraCli } from '../support/cli.ts';
import { BrowserAgent } from '../support/browser-agent.ts';
import { driveAuthorization } from '../support/oauth.ts';

const PASSWORD = 'a long and unguessable passphrase';

/** The app's side of the redirect: one loopback listener on a port the system picks, answering one callback. */
async function loopbackListener(host: '127.0.0.1' | '::1'): Promise<{ port: number; callback: Promise<URL>; close(): Promise<void> }> {
  let received!: (url: URL) => void;
  const callback = new Promise<URL>((resolve) => { received = resolve; });
  const server: Server = createServer((req, res) => {
    const base = host === '::1' ? `http://[::1]:${port}` : `http://127.0.0.1:${port}`;
    received(new URL(req.url ?? '/', base));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('You may close this window.');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  return { port, callback, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

describe('a native app through a loopback redirect on a random port (tessera serve, CLI, oauth4webapi)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-native-'));
  let proc: TesseraProcess;
  let cliEnv: NodeJS.ProcessEnv;
  let as: oauth.AuthorizationServer;
  let clientId: string;

  beforeAll(async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    proc = spawnTessera(['serve'], {
      PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), LOG_LEVEL: 'warn',
    }, port);
    await waitForOk(`${proc.url}/.well-known/openid-configuration`, proc, 30_000);
    cliEnv = { PATH: process.env.PATH, ISSUER: issuer, KEYS_DIR: join(dir, 'keys'), LOG_LEVEL: 'silent' };
    const user = await runTesseraCli(['users', 'create', '--username', 'ada', '--password-stdin', '--json'], cliEnv, `${PASSWORD}\n`);
    expect(user.code).toBe(0);
    const created = await runTesseraCli(['clients', 'create', '--name', 'Desktop notes', '--grant-types', 'authorization_code',
      '--application-type', 'native', '--public', '--redirect-uris', 'http://127.0.0.1/callback,http://[::1]/callback', '--scopes', 'openid profile', '--json'], cliEnv);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.json).toMatchObject({ application_type: 'native', public: true, token_endpoint_auth_method: 'none' });
    expect(created.json).not.toHaveProperty('client_secret');
    clientId = created.json.client_id;
    as = await oauth.processDiscoveryResponse(new URL(issuer), await oauth.discoveryRequest(new URL(issuer), { [oauth.allowInsecureRequests]: true }));
  }, 60_000);

  afterAll(async () => {
    await proc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The app's whole flow: PKCE, the pages, the redirect to its listener, the code for tokens. */
  async function signInThrough(host: '127.0.0.1' | '::1') {
    const listener = await loopbackListener(host);
    try {
      const redirectUri = host === '::1' ? `http://[::1]:${listener.port}/callback` : `http://127.0.0.1:${listener.port}/callback`;
      const client: oauth.Client = { client_id: clientId, token_endpoint_auth_method: 'none' };
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'openid profile', state,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      }).toString();
      const driven = await driveAuthorization(new BrowserAgent(), url.href, { redirectUri, user: { username: 'ada', password: PASSWORD } });
      expect(driven.pages).toEqual(['login', 'consent']);
      // the browser follows the redirect to the app's listener
      expect((await fetch(driven.callback)).status).toBe(200);
      const callback = await listener.callback;
      expect(callback.port).toBe(String(listener.port));
      const params = oauth.validateAuthResponse(as, client, callback, state);
      const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, { [oauth.allowInsecureRequests]: true });
      return await oauth.processAuthorizationCodeResponse(as, client, response, { requireIdToken: true });
    } finally {
      await listener.close();
    }
  }

  test('127.0.0.1 registered without a port: the code flow with PKCE completes on the port the app listens on', async () => {
    const tokens = await signInThrough('127.0.0.1');
    expect(tokens.access_token).toEqual(expect.any(String));
    expect(oauth.getValidatedIdTokenClaims(tokens)?.aud).toBe(clientId);
    expect(tokens).not.toHaveProperty('refresh_token'); // no refresh_token grant was registered
  });

  test('a page served at http://127.0.0.1 cannot read the token endpoint\'s answers for the app (no CORS for a native app)', async () => {
    const res = await fetch(as.token_endpoint!, {
      method: 'POST',
      headers: { origin: 'http://127.0.0.1', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, code: 'x', code_verifier: 'y'.repeat(43), redirect_uri: 'http://127.0.0.1/callback' }),
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('[::1] likewise (RFC 8252 §7.3: either loopback literal, any port)', async () => {
    const tokens = await signInThrough('::1');
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  test('no PKCE, another host, or localhost in place of the registered 127.0.0.1: refused before any page', async () => {
    const agent = new BrowserAgent();
    const base = { client_id: clientId, response_type: 'code', scope: 'openid', state: 'x' };
    const attempt = async (params: Record<string, string>) => {
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ ...base, ...params }).toString();
      return agent.follow(url.href, {}, () => true);
    };
    const challenge = { code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256' };
    // without PKCE the error goes to the (valid) redirect URI
    const noPkce = await attempt({ redirect_uri: 'http://127.0.0.1:51000/callback' });
    expect(new URL(noPkce.stoppedAt!).searchParams.get('error')).toBe('invalid_request');
    // a redirect URI that is not registered is never redirected to: an error page
    for (const redirectUri of ['http://localhost:51000/callback', 'http://127.0.0.2:51000/callback', 'http://127.0.0.1:51000/other', 'https://127.0.0.1:51000/callback']) {
      const refused = await attempt({ redirect_uri: redirectUri, ...challenge });
      expect(refused.stoppedAt).toBeUndefined();
      expect(refused.response.status).toBe(400);
      expect(refused.response.text).toContain('redirect_uri');
    }
  });
});
