/*
 * Sessions end to end, on two instances sharing one Postgres and either one
 * Redis or the SQL token state: a person's sessions are listed with their
 * device, address and times; ending one (an admin, RP-initiated logout,
 * disabling the user) makes every token of its grants inactive at the other
 * instance at once, its cookie no longer signs in, and clients that
 * registered a backchannel_logout_uri receive a logout token that verifies
 * against /jwks. Other sessions and other users' tokens stay active.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { startTwoInstances, type TestServer, type TwoInstances } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { authorizationRequest, type ClientCredentials } from '../support/oauth.ts';
import { BrowserAgent, type PageResponse } from '../support/browser-agent.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { readAdminCredentials } from '../../src/admin/index.ts';
import { codeFlow, introspect, isJwt, refresh, REDIRECT_URI, type Tokens } from '../tokens/token-flows.ts';

const API = 'https://api.sessions.test';
const CHROME_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** A browser with its own User-Agent. */
class DeviceAgent extends BrowserAgent {
  readonly userAgent: string;
  constructor(userAgent: string) {
    super();
    this.userAgent = userAgent;
  }
  override request(url: string, init: RequestInit = {}): Promise<PageResponse> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', this.userAgent);
    return super.request(url, { ...init, headers });
  }
}

/** A relying party's back-channel logout endpoint: records what it is sent; /slow never answers. */
async function startLogoutReceiver() {
  const received: Array<{ path: string; logoutToken: string | null; contentType?: string }> = [];
  const hanging: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      received.push({ path: req.url ?? '', logoutToken: new URLSearchParams(body).get('logout_token'), contentType: req.headers['content-type'] });
      if (req.url === '/slow') { hanging.push(req); return; }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const USERS = {
  alice: { username: 'sess-alice', password: 'a long and unguessable passphrase' },
  bob: { username: 'sess-bob', password: 'another long unguessable passphrase' },
};

interface SignedIn {
  agent: BrowserAgent;
  /** unique to this browser, so the session list tells which session is its */
  userAgent: string;
  /** the JWT for the API, the opaque access token (userinfo), both refresh tokens, the ID token */
  jwt: string; opaque: string; refreshTokens: string[]; idToken: string;
  /** the ID token's sid (per client of the session) */
  sid: string;
}

const pgUp = await postgresUp();
const bothUp = pgUp && await redisUp();

for (const { store, redis, up } of [
  { store: 'Redis', redis: true, up: bothUp },
  { store: 'the SQL token state', redis: false, up: pgUp },
]) describeWithService(redis ? 'Postgres and Redis' : 'Postgres', up)(`sessions on two instances, one Postgres and ${store}`, () => {
  let instances: TwoInstances | undefined;
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let receiver: Awaited<ReturnType<typeof startLogoutReceiver>> | undefined;
  let token: string;
  let adminClientId: string;
  let app: ClientCredentials;
  let quiet: ClientCredentials;
  let rs: ClientCredentials;
  const ids: Record<keyof typeof USERS, string> = { alice: '', bob: '' };

  beforeAll(async () => {
    receiver = await startLogoutReceiver();
    instances = await startTwoInstances({ redis, config: { backchannelLogout: { allowLoopback: true } } });
    ({ a, b } = instances);
    token = await adminToken(a);
    adminClientId = readAdminCredentials(a.config.keysDir, {})!.client_id;

    await a.services.resources.create({ identifier: API, scopes: ['read'] });
    // through the admin API, as an operator registers it
    const created = await call(a, token, 'POST', '/clients', {
      name: 'Sessions App', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI],
      scopes: ['openid', 'offline_access', 'read'], backchannel_logout_uri: `${receiver.url}/app`,
    });
    expect(created).toMatchObject({ status: 201, body: { backchannel_logout_uri: `${receiver.url}/app`, backchannel_logout_session_required: true } });
    app = { clientId: created.body.client_id, clientSecret: created.body.client_secret };
    // no backchannel_logout_uri: it is never sent anything
    quiet = await a.createClient({ name: 'Quiet App', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'] });
    rs = await b.createClient({ name: 'api', grantTypes: ['client_credentials'], introspectFor: [API] });
    ids.alice = (await a.createUser(USERS.alice)).id;
    ids.bob = (await a.createUser(USERS.bob)).id;
  }, 60_000);

  afterAll(async () => {
    await instances?.stop();
    await receiver?.close();
  });

  /** Signs in at `at` in a new browser: a JWT for the API and an opaque token (two flows, one grant), and a sign-in to the quiet app. */
  async function signIn(who: keyof typeof USERS, at: TestServer, device = CHROME_ON_LINUX): Promise<SignedIn> {
    const userAgent = `${device} Test/${randomBytes(4).toString('hex')}`;
    const agent = new DeviceAgent(userAgent);
    const withJwt = await codeFlow({ baseUrl: at.url, client: app, user: USERS[who], scope: 'openid offline_access read', resource: API, agent });
    const withOpaque: Tokens = await codeFlow({ baseUrl: at.url, client: app, user: USERS[who], scope: 'openid offline_access', agent });
    await codeFlow({ baseUrl: at.url, client: quiet, user: USERS[who], scope: 'openid', agent });
    expect(isJwt(withJwt.access_token)).toBe(true);
    expect(isJwt(withOpaque.access_token)).toBe(false);
    const idToken = withJwt.id_token!;
    return {
      agent, userAgent, jwt: withJwt.access_token, opaque: withOpaque.access_token, idToken,
      refreshTokens: [withJwt.refresh_token!, withOpaque.refresh_token!],
      sid: decodeJwt(idToken).sid as string,
    };
  }

  /** Every token of the sign-in, as `server` sees it: true when all are active, false when none is. */
  async function tokensActive(server: TestServer, s: SignedIn): Promise<boolean | 'mixed'> {
    const answers = [
      await introspect(server.url, app, s.jwt),
      await introspect(server.url, rs, s.jwt),
      await introspect(server.url, app, s.opaque),
      ...await Promise.all(s.refreshTokens.map((t) => introspect(server.url, app, t))),
    ].map((answer) => answer.active);
    return answers.every(Boolean) ? true : answers.every((active) => !active) ? false : 'mixed';
  }

  /** prompt=none with the browser's cookies: a code while it is signed in, login_required once its session ended. */
  async function silentSignIn(server: TestServer, agent: BrowserAgent): Promise<string | null> {
    const { url } = authorizationRequest({ baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI, scope: 'openid', params: { prompt: 'none' } });
    const { stoppedAt } = await agent.follow(url, {}, (location) => location.startsWith(REDIRECT_URI));
    const callback = new URL(stoppedAt!);
    return callback.searchParams.get('error') ?? (callback.searchParams.get('code') ? 'code' : null);
  }

  async function sessionsOf(who: keyof typeof USERS, server: TestServer) {
    const answer = await call(server, token, 'GET', `/sessions?user=${USERS[who].username}`);
    expect(answer.status).toBe(200);
    return answer.body.items as Array<Record<string, any>>;
  }

  /** The logout token sent for `sid`, verified against /jwks as a relying party would. */
  async function logoutTokenFor(sid: string): Promise<JWTPayload> {
    const sent = receiver!.received.filter((r) => r.path === '/app' && r.logoutToken && decodeJwt(r.logoutToken).sid === sid);
    expect(sent).toHaveLength(1);
    expect(sent[0].contentType).toBe('application/x-www-form-urlencoded');
    const { payload, protectedHeader } = await jwtVerify(sent[0].logoutToken!, createRemoteJWKSet(new URL(`${b!.url}/jwks`)), {
      issuer: a!.issuer, audience: app.clientId, typ: 'logout+jwt',
    });
    expect(protectedHeader.alg).toBeDefined();
    return payload;
  }

  /** The id the admin API gives the session of this sign-in. */
  async function sessionIdOf(who: keyof typeof USERS, s: SignedIn): Promise<string> {
    const found = (await sessionsOf(who, a!)).filter((listed) => listed.user_agent === s.userAgent);
    expect(found).toHaveLength(1);
    return found[0].id;
  }

  const onlyIf = (name: string, fn: () => Promise<void>) => test(name, fn, 60_000);

  onlyIf('a person\'s sessions are listed with device, address, times and clients, never by their cookie', async () => {
    const first = await signIn('alice', a!, CHROME_ON_LINUX);
    const second = await signIn('alice', b!, FIREFOX_ON_WINDOWS);
    const listed = await sessionsOf('alice', b!);
    expect(listed.length).toBeGreaterThanOrEqual(2);
    const devices = listed.map((s) => s.device);
    expect(devices).toEqual(expect.arrayContaining(['Chrome on Linux', 'Firefox on Windows']));
    for (const session of listed) {
      expect(session).toMatchObject({
        account_id: ids.alice,
        ip: '127.0.0.1',
        created_at: expect.any(String),
        last_active_at: expect.any(String),
        clients: expect.arrayContaining([{ client_id: app.clientId, name: 'Sessions App' }, { client_id: quiet.clientId, name: 'Quiet App' }]),
      });
      expect(Date.parse(session.last_active_at)).toBeGreaterThanOrEqual(Date.parse(session.created_at));
    }
    // one entry per browser, with the User-Agent it signed in with
    for (const s of [first, second]) expect(listed.filter((l) => l.user_agent === s.userAgent)).toHaveLength(1);
    // the storage id (the cookie's value) is in no answer
    const text = JSON.stringify(listed);
    for (const s of [first, second]) expect(text).not.toContain(s.agent.jar.get('_session'));
    // nobody else's
    expect((await sessionsOf('bob', a!)).filter((s) => s.account_id !== ids.bob)).toEqual([]);
    // the unknown user, and a query that is not allowed
    expect((await call(a!, token, 'GET', '/sessions?user=nobody-here')).status).toBe(404);
    const bad = await call(a!, token, 'GET', `/sessions?user=${USERS.alice.username}&cookie=x`);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect((await call(a!, token, 'GET', '/sessions')).status).toBe(400);
  });

  onlyIf('an admin ends one session at A: its tokens die at B at once, its cookie signs in no more, its client gets a logout token; the rest lives', async () => {
    const ended = await signIn('alice', a!);
    const kept = await signIn('alice', b!);
    const bobs = await signIn('bob', b!);
    for (const s of [ended, kept, bobs]) expect(await tokensActive(b!, s)).toBe(true);

    const endedId = await sessionIdOf('alice', ended);
    expect(await sessionIdOf('alice', kept)).not.toBe(endedId);
    expect((await call(a!, token, 'DELETE', `/sessions/${encodeURIComponent(endedId)}`)).status).toBe(204);

    expect(await tokensActive(b!, ended)).toBe(false);
    expect(await tokensActive(a!, ended)).toBe(false);
    for (const refreshToken of ended.refreshTokens) expect((await refresh(b!.url, app, refreshToken)).body).toMatchObject({ error: 'invalid_grant' });
    expect(await silentSignIn(b!, ended.agent)).toBe('login_required');
    expect(await tokensActive(b!, kept)).toBe(true);
    expect(await tokensActive(a!, bobs)).toBe(true);
    expect(await silentSignIn(a!, kept.agent)).toBe('code');

    const logout = await logoutTokenFor(ended.sid);
    expect(logout).toMatchObject({ sub: ids.alice, sid: ended.sid, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } });
    expect(logout).not.toHaveProperty('nonce');
    expect(typeof logout.jti).toBe('string');
    expect(typeof logout.iat).toBe('number');
    // the quiet app registered no backchannel_logout_uri: nothing for it, anywhere
    expect(receiver!.received.every((r) => r.path === '/app' || r.path === '/slow')).toBe(true);

    const events = await a!.services.audit.list({ type: 'session.ended', limit: 50, offset: 0 });
    expect(events.find((e) => e.details.session_id === endedId)).toMatchObject({
      actor: adminClientId, subject: ids.alice,
      details: { reason: 'admin', revoked_grants: 2, backchannel_logout: { sent: 1, failed: 0 }, clients: expect.arrayContaining([app.clientId, quiet.clientId]) },
    });
    // gone: a second end finds nothing
    expect((await call(b!, token, 'DELETE', `/sessions/${encodeURIComponent(endedId)}`)).status).toBe(404);
    expect(await sessionsOf('alice', b!)).toEqual(expect.not.arrayContaining([expect.objectContaining({ id: endedId })]));
  });

  onlyIf('ending all of a user\'s sessions at B ends each of them at A, and no one else\'s', async () => {
    const one = await signIn('alice', a!);
    const two = await signIn('alice', b!);
    const bobs = await signIn('bob', a!);
    const answer = await call(b!, token, 'POST', '/sessions/end', { user: USERS.alice.username });
    expect(answer).toMatchObject({ status: 200, body: { user: ids.alice } });
    expect(answer.body.ended_sessions).toBeGreaterThanOrEqual(2);
    for (const s of [one, two]) {
      expect(await tokensActive(a!, s)).toBe(false);
      expect(await silentSignIn(a!, s.agent)).toBe('login_required');
      expect((await logoutTokenFor(s.sid)).sub).toBe(ids.alice);
    }
    for (const refreshToken of one.refreshTokens) expect((await refresh(a!.url, app, refreshToken)).body).toMatchObject({ error: 'invalid_grant' });
    expect(await sessionsOf('alice', a!)).toEqual([]);
    expect(await tokensActive(b!, bobs)).toBe(true);
    expect(await silentSignIn(b!, bobs.agent)).toBe('code');
    const unknown = await call(b!, token, 'POST', '/sessions/end', { user: USERS.alice.username, extra: true });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: expect.stringContaining('extra') })]));
  });

  onlyIf('RP-initiated logout at B ends the session and sends the client a logout token that verifies against /jwks', async () => {
    const s = await signIn('bob', a!);
    const sessionId = await sessionIdOf('bob', s);
    const url = new URL('/session/end', b!.url);
    url.searchParams.set('id_token_hint', s.idToken);
    const page = await s.agent.request(url.href);
    expect(page.status).toBe(200);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.text)?.[1];
    expect(xsrf).toBeDefined();
    const confirmed = await s.agent.request(new URL('/session/end/confirm', b!.url).href, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ xsrf: xsrf!, logout: 'yes' }),
    });
    expect(confirmed.status).toBe(303);
    const logout = await logoutTokenFor(s.sid);
    expect(logout).toMatchObject({ sub: ids.bob, sid: s.sid, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } });
    expect(await silentSignIn(a!, s.agent)).toBe('login_required');
    expect((await sessionsOf('bob', a!)).some((listed) => listed.id === sessionId)).toBe(false);
    // offline access outlives a sign-out (OpenID Connect Core §11; oidc-provider
    // keeps such grants at logout): only Tessera's own ending revokes them
    expect(await tokensActive(a!, s)).toBe(true);
  });

  onlyIf('disabling a user ends the user\'s sessions: logout tokens sent, tokens dead at the other instance', async () => {
    const s = await signIn('bob', b!);
    const answer = await call(a!, token, 'POST', `/users/${USERS.bob.username}/disable`, {});
    expect(answer.status).toBe(200);
    expect(answer.body.ended_sessions).toBeGreaterThanOrEqual(1);
    expect((await logoutTokenFor(s.sid)).sub).toBe(ids.bob);
    expect(await tokensActive(b!, s)).toBe(false);
    const events = await a!.services.audit.list({ type: 'session.ended', subjects: [ids.bob], limit: 50, offset: 0 });
    expect(events.some((e) => e.details.reason === 'user_disabled' && e.actor === adminClientId)).toBe(true);
  });
});
