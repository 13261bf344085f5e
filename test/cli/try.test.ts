// Issue 10, "a tessera command that ... exchanges the code with PKCE and
// prints the tokens": `tessera try` as a process against a running server,
// the sign-in driven through the real pages (fetch with a cookie jar), and
// every way it can end without tokens.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { BrowserAgent } from '../support/browser-agent.ts';
import { driveAuthorization } from '../support/oauth.ts';
import { freePort } from '../support/process.ts';

const NODE = join(process.cwd(), 'node_modules/.bin/node');
const MAIN = join(process.cwd(), 'src/main.ts');
const USER = { username: 'jun', password: 'jun has a long passphrase' };

interface Run {
  child: ChildProcess;
  /** resolves with the sign-in URL once the command printed it */
  url: Promise<string>;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

describe('tessera try', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await server.createUser(USER);
  });
  afterAll(async () => { await server?.stop(); });

  function tessera(args: string[], options: { stdin?: string } = {}): Run {
    const env = { PATH: process.env.PATH, ISSUER: server.issuer, KEYS_DIR: server.config.keysDir, LOG_LEVEL: 'silent' };
    const child = spawn(NODE, [MAIN, 'try', ...args], { env });
    let stdout = '';
    let stderr = '';
    let foundUrl: (url: string) => void;
    const url = new Promise<string>((resolve) => { foundUrl = resolve; });
    child.stdout!.on('data', (chunk) => { stdout += chunk; });
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      const match = /^ {2}(http\S+\/auth\?\S+)$/m.exec(stderr);
      if (match) foundUrl(match[1]);
    });
    child.stdin!.end(options.stdin ?? '');
    const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    // a command that ends before printing a URL must not leave the test waiting for one
    void exited.then(() => foundUrl(''));
    return { child, url, exited };
  }

  /** The person's part: the pages in a cookie-jar browser, up to the redirect, which is then delivered to the callback. */
  async function signIn(url: string, consent: 'Allow' | 'Deny' = 'Allow') {
    const redirectUri = new URL(url).searchParams.get('redirect_uri')!;
    const driven = await driveAuthorization(new BrowserAgent(), url, { redirectUri, user: USER, consent });
    const landed = await fetch(driven.callback);
    return { pages: driven.pages, status: landed.status, page: await landed.text() };
  }

  test('registers a demo client for exactly the scopes asked, signs in with PKCE and prints verified tokens (--json)', async () => {
    const run = tessera(['--json', '--timeout', '60']);
    const url = new URL(await run.url);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('prompt')).toBe('consent'); // offline_access is asked for by default
    const landed = await signIn(url.href);
    expect(landed.pages).toEqual(['login', 'consent']);
    expect(landed.status).toBe(200);
    expect(landed.page).toContain('You can close this window');

    const { code, stdout, stderr } = await run.exited;
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.registered_client).toEqual({
      client_id: result.client_id,
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [url.searchParams.get('redirect_uri')],
    });
    expect(stderr).toContain('scopes:        openid profile email offline_access (what --scopes asked for, nothing else)');
    expect(result.scope).toBe('openid profile email offline_access');
    expect(result.refresh_token).toEqual(expect.any(String));
    expect(result.userinfo).toMatchObject({ preferred_username: 'jun' });

    // the ID token it printed verifies here too, for the demo client
    const { payload } = await jwtVerify(result.id_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.issuer, audience: result.client_id });
    expect(payload).toEqual(result.id_token_claims);

    // the demo client is what the output says, and public
    const stored = await server.services.clients.find(result.client_id);
    expect(stored?.metadata).toMatchObject({ token_endpoint_auth_method: 'none', allowed_scopes: ['openid', 'profile', 'email', 'offline_access'] });
  });

  test('without offline_access: no refresh_token grant for the demo client, no prompt=consent, no refresh token', async () => {
    const run = tessera(['--json', '--scopes', 'openid email']);
    const url = new URL(await run.url);
    expect(url.searchParams.has('prompt')).toBe(false);
    await signIn(url.href);
    const { code, stdout } = await run.exited;
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.registered_client).toMatchObject({ scopes: ['openid', 'email'], grant_types: ['authorization_code'] });
    expect(result.refresh_token).toBeUndefined();
  });

  test('human output: the tokens and the ID token claims, said to be verified', async () => {
    const run = tessera([]);
    await signIn(await run.url);
    const { code, stdout } = await run.exited;
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}access_token: {2}\S+$/m);
    expect(stdout).toMatch(/^ {2}refresh_token: \S+$/m);
    expect(stdout).toMatch(/ID token verified \(RS256, key \S+ from http:\/\/127\.0\.0\.1:\d+\/jwks; iss, aud, exp and nonce checked\)/);
    expect(stdout).toContain('"preferred_username": "jun"');
  });

  test('a given client (--client-id, --port, secret on stdin) is used as it is: nothing is registered', async () => {
    const port = await freePort();
    const client = await server.createClient({
      name: 'Existing app', grantTypes: ['authorization_code'], redirectUris: [`http://127.0.0.1:${port}/callback`], scopes: ['openid'],
    });
    const before = (await server.services.clients.list({ limit: 1000, offset: 0 })).length;
    const run = tessera(['--json', '--scopes', 'openid', '--client-id', client.clientId, '--port', String(port), '--client-secret-stdin'], { stdin: `${client.clientSecret}\n` });
    await signIn(await run.url);
    const { code, stdout, stderr } = await run.exited;
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ client_id: client.clientId, scope: 'openid' });
    expect(JSON.parse(stdout).registered_client).toBeUndefined();
    expect(stderr).not.toContain(client.clientSecret!);
    expect((await server.services.clients.list({ limit: 1000, offset: 0 })).length).toBe(before);
  });

  test('a denied consent: the callback page says so, the command exits 1 naming access_denied', async () => {
    const run = tessera(['--timeout', '60']);
    const landed = await signIn(await run.url, 'Deny');
    expect(landed.status).toBe(400);
    expect(landed.page).toContain('access_denied');
    expect(landed.page).toContain('You can close this window');
    const { code, stdout, stderr } = await run.exited;
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/tessera: the sign-in ended with access_denied/);
  });

  test('a callback with another state is refused, its code unused: exit 1', async () => {
    const run = tessera(['--timeout', '60']);
    const url = new URL(await run.url);
    const forged = new URL(url.searchParams.get('redirect_uri')!);
    forged.searchParams.set('code', 'a-code-from-somewhere-else');
    forged.searchParams.set('state', 'not-the-state-we-sent');
    const res = await fetch(forged);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('another state');
    const { code, stderr } = await run.exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/tessera: the callback carried another state than the request/);
  });

  test('nobody signs in: after --timeout seconds, exit 1 and the callback no longer listens', async () => {
    const run = tessera(['--timeout', '1']);
    const redirectUri = new URL(await run.url).searchParams.get('redirect_uri')!;
    const { code, stderr } = await run.exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/tessera: no sign-in arrived within 1 s \(--timeout\)/);
    await expect(fetch(redirectUri)).rejects.toThrow();
  });

  test('command-line mistakes: exit 2 with the command\'s usage', async () => {
    for (const [args, message] of [
      [['--client-id', 'x'], '--client-id needs --port'],
      [['--timeout', '0'], '--timeout must be at least 1'],
      [['--client-secret-stdin'], '--client-secret-stdin goes with --client-id'],
    ] as const) {
      const { code, stderr } = await tessera([...args]).exited;
      expect(code).toBe(2);
      expect(stderr).toContain(message);
      expect(stderr).toMatch(/usage:\n {2}try /);
    }
  });

  test('a scope nobody offers: the registration is refused, naming --scopes; exit 1', async () => {
    const { code, stderr } = await tessera(['--scopes', 'openid launch-missiles']).exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/the demo client could not be registered: .*--scopes: "launch-missiles" is offered by no resource server/);
  });
});
