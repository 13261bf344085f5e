/*
 * The client address the login limits count, and the protocol and host the
 * provider builds its URLs from, come from X-Forwarded-* only as far as
 * trusted proxies wrote them. Requests are sent from chosen loopback
 * addresses (127.0.0.1 and 127.0.0.2) to play a direct client and a proxy.
 */
import { randomBytes } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorizationRequest, basicAuth, type ClientCredentials } from '../support/oauth.ts';
import { BrowserAgent, formWithButton } from '../support/browser-agent.ts';

const REDIRECT_URI = 'https://app.example.test/callback';
/** four failures a minute per address, nothing else in the way */
const LOCKOUT = { maxConsecutiveFailures: 1000, baseDelaySeconds: 1, maxDelaySeconds: 1, perIpPerMinute: 4, perIpAndUsernamePerMinute: 1000 };

interface Reply { status: number; headers: IncomingHttpHeaders; text: string }

/** One request from the loopback address `from` (node:http: fetch cannot choose its source address). */
function send(server: TestServer, path: string, options: { headers?: Record<string, string>; form?: Record<string, string>; from?: string } = {}): Promise<Reply> {
  const url = new URL(path, server.url);
  const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
  const headers: Record<string, string | number> = { ...options.headers };
  if (body !== undefined) Object.assign(headers, { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) });
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method: body === undefined ? 'GET' : 'POST', headers, localAddress: options.from, agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const randomAddress = () => `203.0.113.${randomBytes(1)[0]}`;
const randomUsername = () => `nobody-${randomBytes(4).toString('hex')}`;

/** A password grant with a wrong password for a username no one has: 400, or 429 once the address is limited. */
async function failedLogin(server: TestServer, client: ClientCredentials, options: { forwardedFor?: string; from?: string } = {}): Promise<number> {
  const reply = await send(server, '/token', {
    from: options.from,
    headers: { authorization: basicAuth(client), ...(options.forwardedFor ? { 'x-forwarded-for': options.forwardedFor } : {}) },
    form: { grant_type: 'password', username: randomUsername(), password: 'wrong', scope: 'openid' },
  });
  expect([400, 429]).toContain(reply.status);
  return reply.status;
}

async function discovery(server: TestServer, headers: Record<string, string>, from?: string): Promise<{ token_endpoint: string; issuer: string }> {
  const reply = await send(server, '/.well-known/openid-configuration', { headers, from });
  expect(reply.status).toBe(200);
  return JSON.parse(reply.text);
}

async function prepare(proxy: unknown, logLines?: string[]) {
  const server = await startTestServer({
    config: { proxy, lockout: LOCKOUT },
    ...(logLines ? { logDestination: { write: (line: string) => { logLines.push(line); } } } : {}),
  });
  const client = await server.createClient({
    name: 'app', firstParty: true, grantTypes: ['password', 'authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'],
  });
  return { server, client };
}

describe('no proxy trusted (the default)', () => {
  let server: TestServer;
  let client: ClientCredentials;
  beforeAll(async () => { ({ server, client } = await prepare(false)); });
  afterAll(async () => { await server?.stop(); });

  test('a different X-Forwarded-For on every attempt does not escape the per-address limit', async () => {
    for (let i = 0; i < LOCKOUT.perIpPerMinute; i++) expect(await failedLogin(server, client, { forwardedFor: randomAddress() })).toBe(400);
    expect(await failedLogin(server, client, { forwardedFor: randomAddress() })).toBe(429);
    expect(await failedLogin(server, client)).toBe(429);
  });

  test('X-Forwarded-Proto and -Host change no URL', async () => {
    const document = await discovery(server, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' });
    expect(document.token_endpoint).toBe(`${server.url}/token`);
  });
});

describe('TRUST_PROXY=true: exactly one proxy, at any address', () => {
  let server: TestServer;
  let client: ClientCredentials;
  const logLines: string[] = [];
  beforeAll(async () => { ({ server, client } = await prepare(true, logLines)); });
  afterAll(async () => { await server?.stop(); });

  test('the address the proxy appended is counted: an entry the client put in front of it does not escape the limit', async () => {
    const client1 = '198.51.100.1';
    for (let i = 0; i < LOCKOUT.perIpPerMinute; i++) expect(await failedLogin(server, client, { forwardedFor: `${randomAddress()}, ${client1}` })).toBe(400);
    expect(await failedLogin(server, client, { forwardedFor: `${randomAddress()}, ${client1}` })).toBe(429);
    expect(await failedLogin(server, client, { forwardedFor: client1 })).toBe(429);
    // another client behind the same proxy has its own allowance
    expect(await failedLogin(server, client, { forwardedFor: `${client1}, 198.51.100.2` })).toBe(400);
  });

  test('the sign-in page (Tessera\'s own app) counts the same address as the token endpoint (the provider\'s)', async () => {
    const limited = '198.51.100.3';
    for (let i = 0; i < LOCKOUT.perIpPerMinute; i++) expect(await failedLogin(server, client, { forwardedFor: limited })).toBe(400);

    const signIn = async (forwardedFor: string) => {
      const { url } = authorizationRequest({ baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: 'openid' });
      const agent = new BrowserAgent();
      const { response: page } = await agent.follow(url);
      expect(page.status).toBe(200);
      const form = formWithButton(page.text, 'Sign in');
      const { response } = await agent.follow(new URL(form.action, page.url).href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor },
        body: new URLSearchParams({ ...form.fields, username: randomUsername(), password: 'wrong' }),
      });
      return response;
    };
    const refused = await signIn(`${randomAddress()}, ${limited}`);
    expect(refused.status).toBe(429);
    expect(refused.text).toMatch(/Too many attempts/);
    const other = await signIn(`${limited}, 198.51.100.4`);
    expect(other.status).not.toBe(429);
    expect(other.text).not.toMatch(/Too many attempts/);
  });

  test('X-Forwarded-Proto and -Host as the proxy wrote them, not as the client did', async () => {
    const document = await discovery(server, { 'x-forwarded-proto': 'http, https', 'x-forwarded-host': 'evil.example, id.example.test' });
    expect(document.token_endpoint).toBe('https://id.example.test/token');
  });

  test('one warn line at start says that any peer is believed', () => {
    const warnings = logLines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40 && /risky configuration/.test(entry.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ setting: 'proxy' });
    expect(warnings[0].msg).toMatch(/TRUST_PROXY=true \(exactly one proxy\) believes X-Forwarded-\* from a peer at any address/);
  });
});

describe('proxies listed by address', () => {
  const PROXY = '127.0.0.2';
  let server: TestServer;
  let client: ClientCredentials;
  const logLines: string[] = [];
  beforeAll(async () => { ({ server, client } = await prepare({ addresses: [`${PROXY}/32`, '10.0.0.0/8', 'fd00::/8'] }, logLines)); });
  afterAll(async () => { await server?.stop(); });

  test('a client connecting directly: its X-Forwarded-* change nothing', async () => {
    for (let i = 0; i < LOCKOUT.perIpPerMinute; i++) {
      expect(await failedLogin(server, client, { from: '127.0.0.1', forwardedFor: `${randomAddress()}, ${PROXY}, 10.0.0.1` })).toBe(400);
    }
    expect(await failedLogin(server, client, { from: '127.0.0.1', forwardedFor: randomAddress() })).toBe(429);
    const document = await discovery(server, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }, '127.0.0.1');
    expect(document.token_endpoint).toBe(`${server.url}/token`);
  });

  test('through the proxy: each client\'s own address is counted, whatever it writes in front', async () => {
    const client1 = '198.51.100.1';
    for (let i = 0; i < LOCKOUT.perIpPerMinute; i++) expect(await failedLogin(server, client, { from: PROXY, forwardedFor: `${randomAddress()}, ${client1}` })).toBe(400);
    expect(await failedLogin(server, client, { from: PROXY, forwardedFor: `${randomAddress()}, ${client1}` })).toBe(429);
    // the client spoofing a hop at a listed address gets no further
    expect(await failedLogin(server, client, { from: PROXY, forwardedFor: `${randomAddress()}, 10.0.0.9, ${client1}` })).toBe(429);
    expect(await failedLogin(server, client, { from: PROXY, forwardedFor: '198.51.100.2' })).toBe(400);
    // two listed proxies in a row: the address the outer one saw
    expect(await failedLogin(server, client, { from: PROXY, forwardedFor: `${client1}, 10.0.0.1` })).toBe(429);
  });

  test('through the proxy: its X-Forwarded-Proto and -Host make the URLs', async () => {
    const document = await discovery(server, { 'x-forwarded-for': '198.51.100.5', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.test' }, PROXY);
    expect(document.token_endpoint).toBe('https://id.example.test/token');
  });

  test('listing the proxies is not risky: no warn line at start', () => {
    expect(logLines.filter((line) => /risky configuration/.test(line))).toEqual([]);
  });
});
