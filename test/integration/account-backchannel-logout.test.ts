/*
 * Issue 11, done-means 5: a client with a backchannel_logout_uri receives a
 * logout token that verifies against /jwks when the person signs out from
 * /account: "Sign out of your account" and the per-session "Sign out" of the
 * browser it is in, and, from another browser of the same person, "Sign out
 * everywhere" and that session's "Sign out". The person signs in to the
 * client through the real pages (code + PKCE) in a browser that keeps its
 * cookies, and opens /account in that same browser. A client of the same
 * session without a backchannel_logout_uri is sent nothing. On the embedded
 * database (PGlite) with the token state in SQL.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startCaptureReceiver, eventually, type CaptureReceiver, type Captured } from '../support/webhook-receivers.ts';
import { BrowserAgent, formWithButton, headingOf, parseForms, type HtmlForm, type PageResponse } from '../support/browser-agent.ts';
import type { ClientCredentials } from '../support/oauth.ts';
import { codeFlow, REDIRECT_URI } from '../tokens/token-flows.ts';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const LOGOUT_PATH = '/backchannel-logout';

interface Person { username: string; password: string; id: string }

interface SignedInToApp {
  agent: BrowserAgent;
  person: Person;
  /** the ID token the client got, and its claims */
  idToken: string;
  sid: string;
  sub: string;
}

describe('back-channel logout when a person signs out from /account (embedded database)', () => {
  let server: TestServer | undefined;
  let receiver: CaptureReceiver | undefined;
  let app: ClientCredentials;
  let quiet: ClientCredentials;
  const logLines: string[] = [];

  beforeAll(async () => {
    receiver = await startCaptureReceiver();
    server = await startTestServer({
      config: { backchannelLogout: { allowLoopback: true } },
      logLevel: 'warn',
      logDestination: { write: (line) => { logLines.push(line); } },
    });
    app = await server.createClient({
      name: 'Logout App', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'],
      backchannelLogoutUri: `${receiver.url}${LOGOUT_PATH}`,
    });
    // no backchannel_logout_uri: it is never sent anything
    quiet = await server.createClient({ name: 'Quiet App', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'] });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
  });

  const url = (path: string) => new URL(path, server!.url).href;

  async function newPerson(): Promise<Person> {
    const person = { username: `bcl-${randomBytes(4).toString('hex')}`, password: 'a long and unguessable passphrase' };
    return { ...person, id: (await server!.createUser(person)).id };
  }

  /** Signs the person in to the logout app (and then the quiet app) through the pages, in one browser: one session. */
  async function signInToApp(person: Person): Promise<SignedInToApp> {
    const agent = new BrowserAgent();
    const tokens = await codeFlow({ baseUrl: server!.url, client: app, user: person, scope: 'openid', agent });
    expect(typeof tokens.id_token).toBe('string');
    // the same browser: single sign-on, the same session
    await codeFlow({ baseUrl: server!.url, client: quiet, user: person, scope: 'openid', agent });
    const claims = decodeJwt(tokens.id_token!);
    expect(typeof claims.sid).toBe('string');
    expect(claims.sub).toBe(person.id);
    return { agent, person, idToken: tokens.id_token!, sid: claims.sid as string, sub: claims.sub! };
  }

  /** /account in this browser: already signed in (the app's session), or through the sign-in page. */
  async function openAccount(agent: BrowserAgent, person: Person, expectSignIn: boolean): Promise<PageResponse> {
    const { response } = await agent.follow(url('/account'));
    if (!expectSignIn) {
      expect(headingOf(response.text)).toBe('Your account');
      expect(response.text).toContain(`<strong>${person.username}</strong>`);
      return response;
    }
    expect(headingOf(response.text)).toBe('Sign in');
    const { response: page } = await agent.submit(response, formWithButton(response.text, 'Sign in'), { username: person.username, password: person.password });
    expect(page.status).toBe(200);
    expect(headingOf(page.text)).toBe('Your account');
    return page;
  }

  /** The per-session "Sign out" form of the entry tagged "this device" (current) or of the one that is not. */
  function sessionForm(page: PageResponse, which: 'current' | 'other'): HtmlForm {
    const entries = page.text.split('<li>').filter((chunk) => chunk.includes('action="/account/sessions/end"'));
    const chosen = entries.filter((chunk) => chunk.includes('this device</span>') === (which === 'current'));
    expect(chosen).toHaveLength(1);
    const forms = parseForms(`${chosen[0].slice(0, chosen[0].indexOf('</form>') + '</form>'.length)}`)
      .filter((f) => f.buttons.includes('Sign out') && f.fields.session && f.fields.csrf);
    expect(forms).toHaveLength(1);
    return forms[0];
  }

  /** POSTs a form of the page as the browser would (its CSRF token included), without following the redirect. */
  function press(agent: BrowserAgent, form: HtmlForm): Promise<PageResponse> {
    expect(form.fields.csrf).toEqual(expect.any(String));
    return agent.request(url(form.action), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form.fields),
    });
  }

  /** Waits (bounded) for what the receiver got since `from`; asserts it is exactly one logout token POST, verified as a relying party would. */
  async function theLogoutToken(from: number): Promise<{ request: Captured; payload: JWTPayload }> {
    await eventually(() => receiver!.received.length > from, 'a logout token at the receiver', 10_000);
    const requests = receiver!.received.slice(from);
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request.path).toBe(LOGOUT_PATH);
    expect(request.headers['content-type']).toContain('application/x-www-form-urlencoded');
    const form = new URLSearchParams(request.body);
    expect([...form.keys()]).toEqual(['logout_token']);
    const { payload } = await jwtVerify(form.get('logout_token')!, createRemoteJWKSet(new URL(url('/jwks'))), {
      issuer: server!.issuer, audience: app.clientId, typ: 'logout+jwt',
    });
    return { request, payload };
  }

  function expectLogoutTokenFor(payload: JWTPayload, signedIn: SignedInToApp): void {
    expect(payload).toMatchObject({ sub: signedIn.person.id, sid: signedIn.sid, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } });
    expect(payload.sub).toBe(signedIn.sub);
    expect(payload).not.toHaveProperty('nonce');
    expect(typeof payload.jti).toBe('string');
    expect(typeof payload.iat).toBe('number');
  }

  /** The session ended for the app's browser too: /account sends it to sign in again. */
  async function expectSignedOut(agent: BrowserAgent): Promise<void> {
    const again = await agent.request(url('/account'));
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toContain('/auth?');
  }

  /** The audit event of the app's session: both clients were in it, one logout token sent, none failed (none for the quiet app). */
  async function expectAudited(person: Person): Promise<void> {
    const events = await server!.services.audit.list({ type: 'session.ended', subjects: [person.id], limit: 50, offset: 0 });
    const withApp = events.filter((e) => Array.isArray(e.details.clients) && (e.details.clients as string[]).includes(app.clientId));
    expect(withApp).toHaveLength(1);
    expect(withApp[0].details).toMatchObject({
      clients: expect.arrayContaining([app.clientId, quiet.clientId]),
      backchannel_logout: { sent: 1, failed: 0 },
    });
  }

  const failuresLogged = (from: number) => logLines.slice(from).filter((line) => /back-channel logout failed|"level":(50|60)/.test(line));

  /**
   * What every way of ending the app's session must give: exactly one logout
   * token since `from` (received requests) for the app's session, which
   * verifies; the app's browser signed out; the session end audited; no failure
   * logged since `logFrom`.
   */
  async function expectOneLogoutToken(signedIn: SignedInToApp, person: Person, since: { from: number; logFrom: number }): Promise<void> {
    const { payload } = await theLogoutToken(since.from);
    expectLogoutTokenFor(payload, signedIn);
    await expectSignedOut(signedIn.agent);
    await expectAudited(person);
    expect(failuresLogged(since.logFrom)).toEqual([]);
    expect(receiver!.received.slice(since.from)).toHaveLength(1);
  }

  for (const button of ['Sign out of your account', 'Sign out (this device)'] as const) {
    test(`"${button}" in the browser signed in to the app: the app gets one logout token that verifies against /jwks, the quiet app nothing`, async () => {
      const person = await newPerson();
      const signedIn = await signInToApp(person);
      const page = await openAccount(signedIn.agent, person, false);
      // the session list knows the session's clients; the app and the quiet app are both in it
      expect(page.text).toContain('this device</span>');
      const from = receiver!.received.length;
      const logFrom = logLines.length;

      const form = button === 'Sign out of your account' ? formWithButton(page.text, button) : sessionForm(page, 'current');
      const out = await press(signedIn.agent, form);
      expect(out.status).toBe(303);
      expect(out.headers.get('location')).toBe('/account/signed-out');

      // still only the one request: the quiet app's session end sent nothing anywhere
      await expectOneLogoutToken(signedIn, person, { from, logFrom });
    }, 60_000);
  }

  for (const button of ['Sign out everywhere', 'Sign out (the other session)'] as const) {
    test(`"${button}" from another browser of the same person: the app's session gets one logout token that verifies against /jwks`, async () => {
      const person = await newPerson();
      const signedIn = await signInToApp(person);
      // a second browser, signed in at /account itself: a second session, with no client that takes logout tokens
      const other = new BrowserAgent();
      const page = await openAccount(other, person, true);
      expect(page.text).toContain('this device</span>');
      const from = receiver!.received.length;
      const logFrom = logLines.length;

      if (button === 'Sign out everywhere') {
        const out = await press(other, formWithButton(page.text, button));
        expect(out.status).toBe(303);
        expect(out.headers.get('location')).toBe('/account/signed-out?everywhere=1');
        await expectSignedOut(other);
      } else {
        const out = await press(other, sessionForm(page, 'other'));
        expect(out.status).toBe(303);
        expect(out.headers.get('location')).toBe('/account?notice=session-ended');
        // this browser stays signed in
        const after = await other.request(url('/account?notice=session-ended'));
        expect(after.status).toBe(200);
        expect(after.text).toContain('That session is signed out.');
      }

      await expectOneLogoutToken(signedIn, person, { from, logFrom });
    }, 60_000);
  }
});
