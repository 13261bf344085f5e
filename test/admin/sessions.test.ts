/*
 * Sessions and back-channel logout on the embedded database (PGlite, one
 * process, which keeps what it wrote in memory too): an ended session is gone
 * from that memory as well; which backchannel_logout_uri an admin may
 * register; a receiver that never answers does not hang the admin's request,
 * and its failure is logged without the token; discovery says what works.
 * The two-instance paths: test/integration/sessions.test.ts.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorizationRequest, type ClientCredentials } from '../support/oauth.ts';
import type { BrowserAgent } from '../support/browser-agent.ts';
import { codeFlow, introspect, REDIRECT_URI } from '../tokens/token-flows.ts';
import { adminToken, call } from './admin-api.ts';

const USER = { username: 'sess-carol', password: 'carol has a long passphrase' };

async function silentSignIn(server: TestServer, client: ClientCredentials, agent: BrowserAgent): Promise<string | null> {
  const { url } = authorizationRequest({ baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: 'openid', params: { prompt: 'none' } });
  const { stoppedAt } = await agent.follow(url, {}, (location) => location.startsWith(REDIRECT_URI));
  const callback = new URL(stoppedAt!);
  return callback.searchParams.get('error') ?? (callback.searchParams.get('code') ? 'code' : null);
}

describe('sessions on the embedded database, and back-channel logout registration', () => {
  let server: TestServer;
  let token: string;
  let receiver: Server;
  let receiverUrl: string;
  const hanging: ServerResponse[] = [];
  const received: string[] = [];
  const logLines: string[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => {
        received.push(`${req.url} ${body}`);
        if (req.url === '/slow') hanging.push(res); // never answered
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    server = await startTestServer({
      config: { backchannelLogout: { allowLoopback: true } },
      logDestination: { write: (line) => { logLines.push(line); } },
      logLevel: 'warn',
    });
    token = await adminToken(server);
    await server.createUser(USER);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  test('an ended session is gone from the process\'s memory too: its cookie signs in no more, its tokens are inactive', async () => {
    const created = await call(server, token, 'POST', '/clients', {
      name: 'Embedded App', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI],
      scopes: ['openid', 'offline_access'], backchannel_logout_uri: `${receiverUrl}/embedded`,
    });
    expect(created.status).toBe(201);
    const app = { clientId: created.body.client_id, clientSecret: created.body.client_secret };
    const tokens = await codeFlow({ baseUrl: server.url, client: app, user: USER, scope: 'openid offline_access' });
    expect(await silentSignIn(server, app, tokens.agent)).toBe('code');

    const listed = (await call(server, token, 'GET', `/sessions?user=${USER.username}`)).body.items;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ ip: '127.0.0.1', clients: [{ client_id: app.clientId, name: 'Embedded App' }] });
    expect((await call(server, token, 'DELETE', `/sessions/${listed[0].id}`)).status).toBe(204);

    expect(await silentSignIn(server, app, tokens.agent)).toBe('login_required');
    for (const t of [tokens.access_token, tokens.refresh_token!]) expect(await introspect(server.url, app, t)).toEqual({ active: false });
    expect(received.filter((r) => r.startsWith('/embedded logout_token='))).toHaveLength(1);
    expect((await call(server, token, 'GET', `/sessions?user=${USER.username}`)).body.items).toEqual([]);
  });

  test('a receiver that never answers does not hang the admin\'s request; the failure is logged without the token', async () => {
    const created = await call(server, token, 'POST', '/clients', {
      name: 'Slow App', grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scopes: ['openid'],
      backchannel_logout_uri: `${receiverUrl}/slow`,
    });
    const app = { clientId: created.body.client_id, clientSecret: created.body.client_secret };
    await codeFlow({ baseUrl: server.url, client: app, user: USER, scope: 'openid' });
    const ended = await call(server, token, 'POST', '/sessions/end', { user: USER.username });
    expect(ended).toMatchObject({ status: 200, body: { ended_sessions: 1 } });

    const sent = received.find((r) => r.startsWith('/slow logout_token='));
    expect(sent).toBeDefined();
    const logoutToken = new URLSearchParams(sent!.split(' ')[1]).get('logout_token')!;
    const failure = logLines.find((line) => line.includes('back-channel logout failed'));
    expect(failure).toBeDefined();
    expect(failure).toContain(app.clientId);
    expect(logLines.join('\n')).not.toContain(logoutToken);
    const events = await server.services.audit.list({ type: 'session.ended', limit: 10, offset: 0 });
    expect(events[0].details).toMatchObject({ backchannel_logout: { sent: 0, failed: 1 } });
  }, 30_000);

  test('which backchannel_logout_uri an admin may register (with loopback allowed for development)', async () => {
    const base = { name: 'Logout App', grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scopes: ['openid'] };
    const refused = async (uri: unknown) => {
      const answer = await call(server, token, 'POST', '/clients', { ...base, backchannel_logout_uri: uri });
      expect({ uri, status: answer.status, type: answer.headers.get('content-type') }).toMatchObject({ status: 400, type: expect.stringContaining('application/problem+json') });
      expect(answer.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: expect.stringContaining('backchannel_logout_uri') })]));
    };
    await refused('http://rp.example.com/logout');
    await refused('https://user:pass@rp.example.com/logout');
    await refused('https://rp.example.com/logout#fragment');
    await refused('ftp://rp.example.com/logout');
    await refused('not a url');
    await refused(42);
    const ok = await call(server, token, 'POST', '/clients', { ...base, backchannel_logout_uri: 'https://rp.example.com/logout', backchannel_logout_session_required: false });
    expect(ok).toMatchObject({ status: 201, body: { backchannel_logout_uri: 'https://rp.example.com/logout', backchannel_logout_session_required: false } });
    const none = await call(server, token, 'POST', '/clients', base);
    expect(none).toMatchObject({ status: 201, body: { backchannel_logout_uri: null, backchannel_logout_session_required: false } });
  });

  test('discovery advertises back-channel logout, and no front-channel logout', async () => {
    const discovery = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(discovery).toMatchObject({ backchannel_logout_supported: true, backchannel_logout_session_supported: true });
    expect(discovery).not.toHaveProperty('frontchannel_logout_supported');
  });
});

describe('without BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await adminToken(server);
  });
  afterAll(async () => { await server?.stop(); });

  test('a loopback backchannel_logout_uri is refused, naming the setting', async () => {
    for (const uri of ['http://127.0.0.1:8080/logout', 'https://localhost/logout', 'http://[::1]/logout']) {
      const answer = await call(server, token, 'POST', '/clients', {
        name: 'Local App', grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], backchannel_logout_uri: uri,
      });
      expect({ uri, status: answer.status }).toEqual({ uri, status: 400 });
      expect(answer.body.errors[0]).toMatchObject({ field: 'backchannel_logout_uri', message: expect.stringContaining('BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK') });
    }
  });

  test('DELETE /sessions/:id of no session is 404; POST /sessions/end of an unknown user is 404', async () => {
    expect((await call(server, token, 'DELETE', '/sessions/no-such-session')).status).toBe(404);
    expect((await call(server, token, 'POST', '/sessions/end', { user: 'nobody-at-all' })).status).toBe(404);
    expect((await call(server, token, 'POST', '/sessions/end', {})).status).toBe(400);
  });
});
