// Issue 11: /account over HTTP, on Postgres and Redis — who may do what there,
// and password reset links. The browser's view is test/e2e/account.test.ts.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorize, tokenRequest, type ClientCredentials } from '../support/oauth.ts';
import { BrowserAgent, formWithButton, headingOf, parseForms, type PageResponse } from '../support/browser-agent.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { adminToken, call } from '../admin/admin-api.ts';

const up = (await postgresUp()) && (await redisUp());

interface Person { username: string; password: string; id?: string }

describeWithService('Postgres and Redis', up)('/account over HTTP', () => {
  let server: TestServer;
  let app: ClientCredentials;
  let admin: string;
  const redirectUri = 'https://app.example/callback';
  const logLines: string[] = [];
  const alice: Person = { username: 'alice', password: 'alice-password-1' };
  const bob: Person = { username: 'bob', password: 'bob-password-12' };

  beforeAll(async () => {
    server = await startTestServer({
      database: 'postgres',
      redis: true,
      logDestination: { write: (line) => { logLines.push(line); } },
      // three wrong passwords lock an account (the lockout test below); the others stay under it
      config: { lockout: { maxConsecutiveFailures: 3, baseDelaySeconds: 30, maxDelaySeconds: 3600, perIpPerMinute: 1000, perIpAndUsernamePerMinute: 100 } },
    });
    alice.id = (await server.createUser(alice)).id;
    bob.id = (await server.createUser(bob)).id;
    app = await server.createClient({
      name: 'Photo Album',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [redirectUri],
      scopes: ['openid', 'profile', 'offline_access'],
    });
    admin = await adminToken(server);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const url = (path: string) => new URL(path, server.url).href;

  /** Signs in through /account (redirected through the sign-in pages) and returns the account page. */
  async function signIn(agent: BrowserAgent, person: Person): Promise<PageResponse> {
    const { response: login } = await agent.follow(url('/account'));
    // signed in already (to an app, in this browser): the same session, no second sign-in
    if (headingOf(login.text) === 'Your account' && login.text.includes(`<strong>${person.username}</strong>`)) return login;
    expect(headingOf(login.text)).toBe('Sign in');
    const { response } = await agent.submit(login, formWithButton(login.text, 'Sign in'), { username: person.username, password: person.password });
    expect(response.status).toBe(200);
    expect(headingOf(response.text)).toBe('Your account');
    return response;
  }

  /** The app's refresh token for the person, through the pages (consent: Allow), in the person's browser. */
  async function connectApp(agent: BrowserAgent, person: Person): Promise<string> {
    const result = await authorize({
      baseUrl: server.url, clientId: app.clientId, redirectUri, scope: 'openid profile offline_access',
      params: { prompt: 'consent' }, user: person, agent,
    });
    const tokens = await tokenRequest(server.url, { grant_type: 'authorization_code', code: result.code!, redirect_uri: redirectUri, code_verifier: result.verifier }, app);
    expect(tokens.status).toBe(200);
    return tokens.body.refresh_token as string;
  }

  /** Uses a refresh token: its status, and the new one (rotation) when it worked. */
  async function refresh(token: string): Promise<{ status: number; next?: string; error?: string }> {
    const answer = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: token }, app);
    return { status: answer.status, next: answer.body.refresh_token, error: answer.body.error };
  }

  const formFor = (page: PageResponse, button: string, field?: [string, string]) => {
    const forms = parseForms(page.text).filter((f) => f.buttons.includes(button) && (!field || f.fields[field[0]] === field[1]));
    if (forms.length === 0) throw new Error(`no form with a ${button} button${field ? ` and ${field.join('=')}` : ''}`);
    return forms[0];
  };

  async function post(agent: BrowserAgent, path: string, fields: Record<string, string>): Promise<PageResponse> {
    return agent.request(url(path), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
  }

  async function auditTypes(type: string): Promise<Array<{ actor: string; subject: string; client_id: string | null; details: Record<string, unknown> }>> {
    const answer = await call(server, admin, 'GET', `/audit?type=${encodeURIComponent(type)}`);
    expect(answer.status).toBe(200);
    return answer.body.items;
  }

  test('not signed in: /account sends the person to sign in as the server\'s own client, and back', async () => {
    const agent = new BrowserAgent();
    const first = await agent.request(url('/account'));
    expect(first.status).toBe(303);
    const location = new URL(first.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(`${server.issuer}/auth`);
    expect(location.searchParams.get('client_id')).toBe('tessera-account');
    expect(location.searchParams.get('redirect_uri')).toBe(`${server.issuer}/account/callback`);
    expect(first.headers.get('cache-control')).toContain('no-store');

    const page = await signIn(agent, alice);
    expect(page.headers.get('cache-control')).toContain('no-store');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    // the sign-in for /account leaves no grant behind, and the page lists no app for it
    const grants = await call(server, admin, 'GET', `/grants?user=${alice.id}`);
    expect(grants.body.items.map((g: { client_id: string }) => g.client_id)).not.toContain('tessera-account');
    expect(page.text).not.toContain('Your Tessera account');

    // a POST without a session is refused, never acted on
    const anonymous = await post(new BrowserAgent(), '/account/sign-out', { csrf: 'x' });
    expect(anonymous.status).toBe(403);
  });

  test('Revoke: the app loses its grant, its refresh token fails, and consent.revoked names the person', async () => {
    const agent = new BrowserAgent();
    const refreshToken = await connectApp(agent, alice);
    const page = await signIn(agent, alice);
    expect(page.text).toContain('Photo Album');
    const form = formFor(page, 'Revoke');
    expect(form.fields.grant).toEqual(expect.any(String));

    const revoked = await agent.request(url(form.action), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form.fields) });
    expect(revoked.status).toBe(303);
    expect(revoked.headers.get('location')).toBe('/account?notice=app-revoked');
    const after = await agent.request(url('/account?notice=app-revoked'));
    expect(after.text).toContain('no longer has access');
    expect(after.text).not.toContain('Photo Album');

    const used = await refresh(refreshToken);
    expect(used.status).toBe(400);
    expect(used.error).toBe('invalid_grant');

    const events = await auditTypes('consent.revoked');
    expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ actor: alice.id, subject: alice.id, client_id: app.clientId })]));
  });

  test('CSRF: a form without the token, or with another session\'s, is refused and changes nothing', async () => {
    const aliceAgent = new BrowserAgent();
    const refreshToken = await connectApp(aliceAgent, alice);
    const alicePage = await signIn(aliceAgent, alice);
    const revoke = formFor(alicePage, 'Revoke');

    const bobAgent = new BrowserAgent();
    const bobPage = await signIn(bobAgent, bob);
    const bobCsrf = formFor(bobPage, 'Sign out everywhere').fields.csrf;

    for (const csrf of ['', 'forged', bobCsrf]) {
      const refused = await post(aliceAgent, '/account/apps/revoke', { ...revoke.fields, csrf });
      expect(refused.status).toBe(403);
      expect(headingOf(refused.text)).toBe('This form has expired');
    }
    // a token from an earlier session of the same person is stale too
    const refusedPassword = await post(aliceAgent, '/account/password', { csrf: bobCsrf, current_password: alice.password, new_password: 'x'.repeat(12), repeat_password: 'x'.repeat(12) });
    expect(refusedPassword.status).toBe(403);

    const still = await refresh(refreshToken);
    expect(still.status).toBe(200);
  });

  test('one person cannot revoke another\'s grant or end another\'s session: ids from elsewhere are "no such"', async () => {
    const aliceAgent = new BrowserAgent();
    const refreshToken = await connectApp(aliceAgent, alice);
    const alicePage = await signIn(aliceAgent, alice);
    const aliceGrant = formFor(alicePage, 'Revoke').fields.grant;

    const bobAgent = new BrowserAgent();
    const bobPage = await signIn(bobAgent, bob);
    const csrf = formFor(bobPage, 'Sign out everywhere').fields.csrf;

    for (const grant of [aliceGrant, 'no-such-grant', 'x'.repeat(5000)]) {
      const refused = await post(bobAgent, '/account/apps/revoke', { csrf, grant });
      expect(refused.status).toBe(404);
      expect(headingOf(refused.text)).toBe('No such application');
    }
    // Alice's session id is the sid her ID tokens carry; Bob may have seen it
    const aliceSession = await aliceAgent.request(url('/account'));
    expect(aliceSession.status).toBe(200);
    const session = await server.provider.Session.findByUid(await sessionUidOf(aliceAgent));
    expect(session?.accountId).toBe(alice.id);
    const endForeign = await post(bobAgent, '/account/sessions/end', { csrf, session: session!.uid });
    expect(endForeign.status).toBe(404);
    expect(headingOf(endForeign.text)).toBe('No such session');
    expect((await aliceAgent.request(url('/account'))).status).toBe(200);

    expect((await refresh(refreshToken)).status).toBe(200);
  });

  /** The uid of the provider session behind an agent's cookie. */
  async function sessionUidOf(agent: BrowserAgent): Promise<string> {
    const cookie = agent.jar.get('_session');
    const session = cookie ? await server.provider.Session.find(cookie) : undefined;
    if (!session) throw new Error('no session');
    return session.uid;
  }

  test('Change password: asks the current one, refuses weak or mismatched ones, then revokes every grant; the old password no longer signs in', async () => {
    const carol: Person = { username: 'carol', password: 'carol-password-1' };
    carol.id = (await server.createUser(carol)).id;
    const agent = new BrowserAgent();
    const refreshToken = await connectApp(agent, carol);
    const page = await signIn(agent, carol);
    const form = formFor(page, 'Change password');

    const wrongCurrent = await post(agent, '/account/password', { ...form.fields, current_password: 'not-her-password', new_password: 'carol-new-password', repeat_password: 'carol-new-password' });
    expect(wrongCurrent.status).toBe(200);
    expect(wrongCurrent.text).toContain('Your current password is not correct.');
    const short = await post(agent, '/account/password', { ...form.fields, current_password: carol.password, new_password: 'short', repeat_password: 'short' });
    expect(short.status).toBe(200);
    expect(short.text).toContain('at least 8 characters');
    const mismatch = await post(agent, '/account/password', { ...form.fields, current_password: carol.password, new_password: 'carol-new-password', repeat_password: 'carol-new-passwort' });
    expect(mismatch.status).toBe(200);
    expect(mismatch.text).toContain('not the same');
    expect((await refresh(refreshToken)).status).toBe(200);

    const changed = await post(agent, '/account/password', { ...form.fields, current_password: carol.password, new_password: 'carol-new-password', repeat_password: 'carol-new-password' });
    expect(changed.status).toBe(303);
    expect(changed.headers.get('location')).toBe('/account?notice=password-changed');
    // this session stays signed in
    const after = await agent.request(url('/account?notice=password-changed'));
    expect(after.status).toBe(200);
    expect(after.text).toContain('Your password is changed');
    // every grant is gone, with its tokens
    expect((await refresh(refreshToken)).error).toBe('invalid_grant');

    const oldOne = new BrowserAgent();
    const { response: login } = await oldOne.follow(url('/account'));
    const refused = await oldOne.submit(login, formWithButton(login.text, 'Sign in'), { username: carol.username, password: carol.password });
    expect(refused.response.text).toContain('Incorrect username or password');
    await signIn(new BrowserAgent(), { ...carol, password: 'carol-new-password' });

    const events = await auditTypes('user.password_changed');
    const event = events.find((e) => e.subject === carol.id);
    expect(event).toMatchObject({ actor: carol.id, details: expect.objectContaining({ via: 'account' }) });
    expect(JSON.stringify(events)).not.toContain('carol-new-password');
  });

  test('Change password goes through the sign-in\'s lockout: wrong current passwords lock the account, for the sign-in page too', async () => {
    const frank: Person = { username: 'frank', password: 'frank-password-1' };
    await server.createUser(frank);
    const agent = new BrowserAgent();
    const page = await signIn(agent, frank);
    const form = formFor(page, 'Change password');
    const attempt = (current: string) => post(agent, '/account/password', { ...form.fields, current_password: current, new_password: 'frank-new-password', repeat_password: 'frank-new-password' });
    for (let i = 0; i < 3; i++) expect((await attempt(`wrong-${i}`)).status).toBe(200);
    const locked = await attempt(frank.password);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(locked.text).toContain('Too many attempts');

    // the same counter as the sign-in page's
    const other = new BrowserAgent();
    const { response: login } = await other.follow(url('/account'));
    const refused = await other.request(url(formWithButton(login.text, 'Sign in').action), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...formWithButton(login.text, 'Sign in').fields, username: frank.username, password: frank.password }),
    });
    expect(refused.status).toBe(429);
    // and nothing changed
    expect((await server.services.accounts.findCredentials(frank.username))?.passwordHash).toBeTruthy();
    expect(await server.services.hasher.verify((await server.services.accounts.findCredentials(frank.username))!.passwordHash!, frank.password)).toBe(true);
  });

  test('Sign out: the session ends and /account asks to sign in again', async () => {
    const agent = new BrowserAgent();
    const page = await signIn(agent, bob);
    const form = formFor(page, 'Sign out of your account');
    const out = await post(agent, form.action, form.fields);
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/account/signed-out');
    expect(headingOf((await agent.request(url('/account/signed-out'))).text)).toBe('You are signed out');
    const again = await agent.request(url('/account'));
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toContain('/auth?');
  });

  test('hostile input: oversized forms, other content types, odd paths and methods — a page, never a 5xx', async () => {
    const agent = new BrowserAgent();
    const page = await signIn(agent, bob);
    const csrf = formFor(page, 'Sign out everywhere').fields.csrf;
    const big = await post(agent, '/account/password', { csrf, current_password: 'p'.repeat(1024 * 1024), new_password: 'x', repeat_password: 'x' });
    expect(big.status).toBe(413);
    expect(big.headers.get('content-type')).toMatch(/^text\/html/);
    const longPassword = await post(agent, '/account/password', { csrf, current_password: 'p'.repeat(5000), new_password: 'x'.repeat(9), repeat_password: 'x'.repeat(9) });
    expect(longPassword.status).toBe(200);
    expect(longPassword.text).toContain('Your current password is not correct.');
    const json = await agent.request(url('/account/apps/revoke'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csrf, grant: 'x' }) });
    expect(json.status).toBe(415); // not a form: refused before anything reads it (src/http/input-limits.ts)
    expect(json.headers.get('content-type')).toMatch(/^text\/html/);
    const repeated = await agent.request(url('/account/apps/revoke'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(csrf)}&grant=a&grant=b` });
    expect(repeated.status).toBe(404);
    for (const path of ['/account/reset/', '/account/reset/%', '/account/reset/%00', `/account/reset/${'a'.repeat(10_000)}`, '/account/reset/..%2f..%2fetc', '/account/callback?code=x&state=y', '/account/callback?error=access_denied', '/account/nothing-here']) {
      const res = await agent.request(url(path));
      expect({ path, status: res.status < 500 }).toEqual({ path, status: true });
      expect(res.text).not.toMatch(/at \w+ \(|node_modules/);
    }
    const put = await agent.request(url('/account/password'), { method: 'PUT' });
    expect(put.status).toBeLessThan(500);
    // still signed in and fine
    expect((await agent.request(url('/account'))).status).toBe(200);
  });

  describe('password reset links', () => {
    let dave: Person;
    beforeAll(async () => {
      dave = { username: 'dave', password: 'dave-password-1' };
      dave.id = (await server.createUser(dave)).id;
    });

    const createLink = async (user: string, body: unknown = {}) => call(server, admin, 'POST', `/users/${user}/password-reset`, body);

    test('the admin API validates its input and answers 404 for an unknown user', async () => {
      expect((await createLink('nobody')).status).toBe(404);
      const unknownField = await createLink('dave', { expires_in: 600, password: 'x' });
      expect(unknownField.status).toBe(400);
      expect(unknownField.headers.get('content-type')).toContain('application/problem+json');
      expect(unknownField.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'password' })]));
      const tooLong = await createLink('dave', { expires_in: 10 * 24 * 3600 });
      expect(tooLong.status).toBe(400);
      expect(tooLong.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'expires_in' })]));
      expect((await call(server, undefined, 'POST', '/users/dave/password-reset', {})).status).toBe(401);
    });

    test('a link works once; used, replaced, expired and unknown links all get the same answer; the token reaches no log', async () => {
      const agent = new BrowserAgent();
      const refreshToken = await connectApp(agent, dave);

      const created = await createLink(dave.username);
      expect(created.status).toBe(201);
      expect(created.headers.get('cache-control')).toContain('no-store');
      const link = created.body.url as string;
      expect(link).toMatch(new RegExp(`^${server.issuer}/account/reset/[A-Za-z0-9_-]{43}$`));
      const expiresIn = Date.parse(created.body.expires_at) - Date.now();
      expect(expiresIn).toBeGreaterThan(29 * 60 * 1000);
      expect(expiresIn).toBeLessThanOrEqual(30 * 60 * 1000);
      const token = link.split('/').pop()!;

      const browser = new BrowserAgent();
      const page = await browser.request(link);
      expect(page.status).toBe(200);
      expect(headingOf(page.text)).toBe('Choose a new password');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(page.headers.get('cache-control')).toContain('no-store');
      const form = formWithButton(page.text, 'Set new password');

      // a mismatch spends nothing
      const mismatch = await browser.submit(page, form, { new_password: 'dave-new-password', repeat_password: 'dave-other-password' });
      expect(mismatch.response.status).toBe(200);
      expect(mismatch.response.text).toContain('not the same');
      // without its CSRF token: refused
      const forged = await post(new BrowserAgent(), new URL(link).pathname, { new_password: 'dave-new-password', repeat_password: 'dave-new-password' });
      expect(forged.status).toBe(403);

      const done = await browser.submit(page, form, { new_password: 'dave-new-password', repeat_password: 'dave-new-password' });
      expect(done.response.status).toBe(200);
      expect(headingOf(done.response.text)).toBe('Your password is changed');
      expect((await refresh(refreshToken)).error).toBe('invalid_grant');
      await signIn(new BrowserAgent(), { ...dave, password: 'dave-new-password' });

      const unknown = await new BrowserAgent().request(url(`/account/reset/${'A'.repeat(43)}`));
      const used = await new BrowserAgent().request(link);
      const usedPost = await browser.submit(page, form, { new_password: 'dave-third-password', repeat_password: 'dave-third-password' });
      expect(used.status).toBe(404);
      expect(unknown.status).toBe(404);
      expect(usedPost.response.status).toBe(404);
      const bodyOf = (p: PageResponse) => p.text.replace(/Request ID: <code>[^<]+<\/code>/, '');
      expect(bodyOf(used)).toBe(bodyOf(unknown));
      expect(bodyOf(usedPost.response)).toBe(bodyOf(unknown));
      expect((await new BrowserAgent().request(url('/account/reset/%00%ff'))).status).toBe(404);

      // a new link replaces the previous unused one
      const first = (await createLink(dave.id!)).body.url as string;
      const second = (await createLink(dave.id!, { expires_in: 300 })).body.url as string;
      expect((await new BrowserAgent().request(first)).status).toBe(404);
      expect((await new BrowserAgent().request(second)).status).toBe(200);
      // an expired link
      await server.db.knex('password_resets').where({ account_id: dave.id }).whereNull('used_at').update({ expires_at: new Date(Date.now() - 1000) });
      const expired = await new BrowserAgent().request(second);
      expect(expired.status).toBe(404);
      expect(bodyOf(expired)).toBe(bodyOf(unknown));

      // only digests are stored, and the access log shows the path without the token
      const rows = await server.db.knex('password_resets').select('token_digest');
      expect(JSON.stringify(rows)).not.toContain(token);
      const logged = logLines.join('');
      expect(logged).toContain('/account/reset/[redacted]');
      for (const l of [link, first, second]) expect(logged).not.toContain(l.split('/').pop()!);

      const requested = await auditTypes('user.password_reset_requested');
      expect(requested.filter((e) => e.subject === dave.id)).toHaveLength(3);
      expect(JSON.stringify(requested)).not.toContain(token);
      const changed = await auditTypes('user.password_changed');
      expect(changed.find((e) => e.subject === dave.id)).toMatchObject({ actor: dave.id, details: expect.objectContaining({ via: 'reset_link' }) });
    });
  });
});

// The laptop set-up (embedded PGlite, token state in SQL): the same page works.
describe('/account with the embedded database and token state in SQL', () => {
  let server: TestServer;
  let app: ClientCredentials;
  const redirectUri = 'https://app.example/callback';
  beforeAll(async () => {
    server = await startTestServer();
    await server.createUser({ username: 'gwen', password: 'gwen-password-1' });
    app = await server.createClient({ name: 'Notes', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [redirectUri], scopes: ['openid', 'offline_access'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('sign in, see the app, revoke it; a reset link works once', async () => {
    const agent = new BrowserAgent();
    const result = await authorize({ baseUrl: server.url, clientId: app.clientId, redirectUri, scope: 'openid offline_access', params: { prompt: 'consent' }, user: { username: 'gwen', password: 'gwen-password-1' }, agent });
    const tokens = await tokenRequest(server.url, { grant_type: 'authorization_code', code: result.code!, redirect_uri: redirectUri, code_verifier: result.verifier }, app);
    expect(tokens.status).toBe(200);
    const { response: page } = await agent.follow(new URL('/account', server.url).href);
    expect(headingOf(page.text)).toBe('Your account');
    const revoke = parseForms(page.text).find((f) => f.buttons.includes('Revoke'))!;
    const { response: after } = await agent.submit(page, revoke);
    expect(after.text).toContain('no longer has access');
    expect((await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string }, app)).body.error).toBe('invalid_grant');

    const link = (await call(server, await adminToken(server), 'POST', '/users/gwen/password-reset', {})).body.url as string;
    const browser = new BrowserAgent();
    const reset = await browser.request(link);
    const { response: done } = await browser.submit(reset, formWithButton(reset.text, 'Set new password'), { new_password: 'gwen-new-password', repeat_password: 'gwen-new-password' });
    expect(headingOf(done.text)).toBe('Your password is changed');
    expect((await new BrowserAgent().request(link)).status).toBe(404);
  });
});
