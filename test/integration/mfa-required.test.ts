// A client that requires a second factor (its require_mfa setting, or a
// request with acr_values=mfa) gets ID tokens that say one was proven — at the
// code exchange and at every refresh — and a person without one is taken
// through setting it up before the code is issued. A signed-in person whose
// session proved only the password is asked for the second factor alone.
// Real server, real pages (driven over HTTP), codes from an independent TOTP
// implementation (otpauth).
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { Secret, TOTP } from 'otpauth';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorizationRequest, tokenRequest, type ClientCredentials } from '../support/oauth.ts';
import { BrowserAgent, decodeEntities, formWithButton, headingOf, type PageResponse } from '../support/browser-agent.ts';
import { adminToken, call } from '../admin/admin-api.ts';

const REDIRECT_URI = 'https://app.example.test/cb';
const STEP_SECONDS = 30;

const totpOf = (secret: string) => new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: STEP_SECONDS, algorithm: 'SHA1' });
/** The code of the step `steps` away from now (±1 is accepted as clock skew): codes of different steps for different uses. */
const codeAt = (secret: string, steps: number) => totpOf(secret).generate({ timestamp: Date.now() + steps * STEP_SECONDS * 1000 });

function claimsOf(jwt: string | undefined): Record<string, unknown> {
  if (!jwt) throw new Error('no ID token');
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** The key shown on the set-up page, without the spaces that group it. */
function secretOnPage(page: PageResponse): string {
  const match = /id="totp-secret"[^>]*>([^<]+)</.exec(page.text);
  if (!match) throw new Error(`no key on the page:\n${page.text.slice(0, 1500)}`);
  return decodeEntities(match[1]).replace(/\s+/g, '');
}

const recoveryCodesOn = (page: PageResponse) => [...page.text.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => decodeEntities(m[1]));

describe('clients that require a second factor', () => {
  let server: TestServer;
  let token: string;
  let strict: ClientCredentials;
  let plain: ClientCredentials;
  let people = 0;

  const newPerson = async () => {
    people += 1;
    const person = { username: `mfa-person-${people}`, password: `the password of person ${people}` };
    const { id } = await server.createUser(person);
    return { ...person, id };
  };

  const register = async (name: string, extra: Record<string, unknown>) => {
    const res = await call(server, token, 'POST', '/clients', {
      name, grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI],
      scopes: ['openid', 'offline_access'], first_party: true, ...extra,
    });
    expect(res.status).toBe(201);
    return { clientId: res.body.client_id as string, clientSecret: res.body.client_secret as string };
  };

  beforeAll(async () => {
    server = await startTestServer();
    token = await adminToken(server);
    strict = await register('Strict app', { require_mfa: true });
    plain = await register('Plain app', {});
  });
  afterAll(async () => { await server?.stop(); });

  /** Starts an authorization request (offline_access: a refresh token too) and follows it to the first page or the callback. */
  async function start(agent: BrowserAgent, client: ClientCredentials, params: Record<string, string> = {}) {
    const request = authorizationRequest({
      baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: 'openid offline_access',
      params: { prompt: 'consent', ...params },
    });
    const step = await agent.follow(request.url, {}, stopAtClient);
    return { ...step, verifier: request.verifier };
  }
  const stopAtClient = (location: string) => location.startsWith(REDIRECT_URI);

  async function exchange(client: ClientCredentials, callback: string | undefined, verifier: string) {
    expect(callback).toBeDefined();
    const code = new URL(callback!).searchParams.get('code');
    expect(code).toEqual(expect.any(String));
    const tokens = await tokenRequest(server.url, { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT_URI, code_verifier: verifier }, client);
    expect(tokens.status).toBe(200);
    const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token! }, client);
    expect(refreshed.status).toBe(200);
    return { idToken: claimsOf(tokens.body.id_token), refreshedIdToken: claimsOf(refreshed.body.id_token) };
  }

  /** The password, then the set-up page: the key, its first code, the recovery codes, Continue. */
  async function signInSettingUpTotp(agent: BrowserAgent, client: ClientCredentials, person: { username: string; password: string }, params: Record<string, string> = {}) {
    const first = await start(agent, client, params);
    expect(headingOf(first.response.text)).toBe('Sign in');
    const afterPassword = await agent.submit(first.response, formWithButton(first.response.text, 'Sign in'), person, stopAtClient);
    expect(afterPassword.stoppedAt).toBeUndefined();
    return { ...await setUpTotp(agent, afterPassword.response), verifier: first.verifier };
  }

  async function setUpTotp(agent: BrowserAgent, page: PageResponse) {
    expect(headingOf(page.text)).toBe('Set up two-step verification');
    const secret = secretOnPage(page);
    // a wrong first code does not turn it on: the same page, the same key
    const wrong = await agent.submit(page, formWithButton(page.text, 'Turn on'), { code: 'nope' }, stopAtClient);
    expect(wrong.response.status).toBe(200);
    expect(wrong.response.text).toContain('That code is not right.');
    expect(secretOnPage(wrong.response)).toBe(secret);
    const codes = await agent.submit(wrong.response, formWithButton(wrong.response.text, 'Turn on'), { code: codeAt(secret, -1) }, stopAtClient);
    expect(headingOf(codes.response.text)).toBe('Save your recovery codes');
    const recoveryCodes = recoveryCodesOn(codes.response);
    expect(recoveryCodes).toHaveLength(10);
    const done = await agent.submit(codes.response, formWithButton(codes.response.text, 'Continue'), {}, stopAtClient);
    return { secret, recoveryCodes, callback: done.stoppedAt };
  }

  const expectMultiFactor = (claims: Record<string, unknown>) => {
    expect(claims.acr).toBe('mfa');
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  };

  test('require_mfa: a person without a second factor sets one up before the code is issued; every ID token says mfa', async () => {
    const person = await newPerson();
    const agent = new BrowserAgent();
    const { secret, callback, verifier } = await signInSettingUpTotp(agent, strict, person);
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    const { idToken, refreshedIdToken } = await exchange(strict, callback, verifier);
    expectMultiFactor(idToken);
    // refresh keeps what the sign-in proved
    expectMultiFactor(refreshedIdToken);
    expect(refreshedIdToken.sub).toBe(idToken.sub);
    expect((await server.services.mfa.factorsOf(person.id)).totp).toBe(true);
  });

  test('acr_values=mfa on a client without the setting does the same', async () => {
    const person = await newPerson();
    const agent = new BrowserAgent();
    const { callback, verifier } = await signInSettingUpTotp(agent, plain, person, { acr_values: 'mfa' });
    const { idToken, refreshedIdToken } = await exchange(plain, callback, verifier);
    expectMultiFactor(idToken);
    expectMultiFactor(refreshedIdToken);
  });

  test('without the setting and without acr_values: the password alone, acr pwd', async () => {
    const person = await newPerson();
    const agent = new BrowserAgent();
    const first = await start(agent, plain);
    const done = await agent.submit(first.response, formWithButton(first.response.text, 'Sign in'), person, stopAtClient);
    const { idToken, refreshedIdToken } = await exchange(plain, done.stoppedAt, first.verifier);
    expect(idToken).toMatchObject({ acr: 'pwd', amr: ['pwd'] });
    expect(refreshedIdToken).toMatchObject({ acr: 'pwd', amr: ['pwd'] });
  });

  test('a person signed in with the password only is stepped up: the second step, no password', async () => {
    const person = await newPerson();
    const agent = new BrowserAgent();
    // signed in to the plain app with the password: acr pwd
    const first = await start(agent, plain);
    const signedIn = await agent.submit(first.response, formWithButton(first.response.text, 'Sign in'), person, stopAtClient);
    expect((await exchange(plain, signedIn.stoppedAt, first.verifier)).idToken).toMatchObject({ acr: 'pwd' });
    // then TOTP set up (as /account does), the session still has the password only
    const enrollment = await server.services.mfa.startTotpEnrollment(person.id);
    const context = { ip: '127.0.0.1', via: 'account' as const };
    expect(await server.services.mfa.confirmTotpEnrollment(person.id, codeAt(enrollment.secret, -1), context)).toMatchObject({ ok: true });

    // prompt=none cannot step up: login_required
    const silent = await start(agent, strict, { prompt: 'none' });
    expect(new URL(silent.stoppedAt!).searchParams.get('error')).toBe('login_required');

    const second = await start(agent, strict);
    expect(headingOf(second.response.text)).toBe('Two-step verification');
    expect(second.response.text).not.toContain('name="password"');
    const done = await agent.submit(second.response, formWithButton(second.response.text, 'Verify'), { code: codeAt(enrollment.secret, 0) }, stopAtClient);
    const { idToken, refreshedIdToken } = await exchange(strict, done.stoppedAt, second.verifier);
    expectMultiFactor(idToken);
    expectMultiFactor(refreshedIdToken);

    // the session now proves two factors: the next request needs no page at all
    const again = await start(agent, strict, { prompt: 'none' });
    expect(new URL(again.stoppedAt!).searchParams.get('code')).toEqual(expect.any(String));
  });

  test('a signed-in person without a second factor sets one up without typing the password again', async () => {
    const person = await newPerson();
    const agent = new BrowserAgent();
    const first = await start(agent, plain);
    await agent.submit(first.response, formWithButton(first.response.text, 'Sign in'), person, stopAtClient);
    const second = await start(agent, strict);
    const { callback } = await setUpTotp(agent, second.response);
    expectMultiFactor((await exchange(strict, callback, second.verifier)).idToken);
  });

  test('an enrolled person is asked for the second factor by every client, and a password alone never sets up a new one', async () => {
    const person = await newPerson();
    const agent = new BrowserAgent();
    const { secret, callback, verifier } = await signInSettingUpTotp(agent, strict, person);
    await exchange(strict, callback, verifier);

    const other = new BrowserAgent();
    const first = await start(other, plain);
    const afterPassword = await other.submit(first.response, formWithButton(first.response.text, 'Sign in'), person, stopAtClient);
    expect(headingOf(afterPassword.response.text)).toBe('Two-step verification');
    // the set-up step is not there for someone who has a second factor
    const uid = /\/interaction\/([^/]+)\/second-factor/.exec(afterPassword.response.text)![1];
    const csrf = formWithButton(afterPassword.response.text, 'Verify').fields.csrf;
    const enroll = await other.request(`${server.url}/interaction/${uid}/enroll`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, code: '123456' }),
    });
    expect(enroll.status).toBe(400);
    expect(enroll.text).toContain('This step is no longer needed');
    // nor does Continue finish a sign-in whose second factor is not proven
    const skip = await other.request(`${server.url}/interaction/${uid}/continue`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf }),
    });
    expect(skip.status).toBe(400);

    const done = await other.submit(afterPassword.response, formWithButton(afterPassword.response.text, 'Verify'), { code: codeAt(secret, 0) }, stopAtClient);
    const { idToken } = await exchange(plain, done.stoppedAt, first.verifier);
    expectMultiFactor(idToken);
  });

  test('hostile input at the second step: refused with a page, never a 5xx, and a code too long is not checked', async () => {
    const person = await newPerson();
    const agent = new BrowserAgent();
    const { secret, callback, verifier } = await signInSettingUpTotp(agent, strict, person);
    await exchange(strict, callback, verifier);

    const other = new BrowserAgent();
    const first = await start(other, strict);
    const uidOf = (text: string) => /\/interaction\/([^/"]+)\/login/.exec(text)![1];
    const uid = uidOf(first.response.text);
    const csrf = formWithButton(first.response.text, 'Sign in').fields.csrf;
    const post = (path: string, body: string) => other.request(`${server.url}/interaction/${uid}/${path}`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body,
    });
    // before the password: there is no second step to answer
    expect((await post('second-factor', new URLSearchParams({ csrf, code: '123456' }).toString())).status).toBe(400);
    expect((await post('continue', new URLSearchParams({ csrf }).toString())).status).toBe(400);

    await other.submit(first.response, formWithButton(first.response.text, 'Sign in'), person, stopAtClient);
    const answers = [
      await post('second-factor', new URLSearchParams({ code: codeAt(secret, 0) }).toString()), // no CSRF token
      await post('second-factor', `csrf=${encodeURIComponent(csrf)}&code=1&code=2`), // a repeated field is no code
      await post('second-factor', new URLSearchParams({ csrf, code: '1'.repeat(8_000) }).toString()),
      await post('second-factor', new URLSearchParams({ csrf, code: 'x'.repeat(2_000_000) }).toString()),
      await post('second-factor', '%%%not-a-form'),
      // over http.maxParameterLength: refused before the page reads it (src/http/input-limits.ts)
      await post('second-factor', new URLSearchParams({ csrf, code: '1'.repeat(10_000) }).toString()),
    ];
    expect(answers.map((a) => a.status)).toEqual([403, 200, 200, 413, 403, 400]);
    for (const answer of answers) expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
    expect(answers[1].text).toContain('That code is not right.');
    expect(answers[2].text).toContain('That code is not right.');
    // none of that was a wrong code toward the lockout, nor spent anything: the right code still works
    const page = await other.follow(`${server.url}/interaction/${uid}`);
    const done = await other.submit(page.response, formWithButton(page.response.text, 'Verify'), { code: codeAt(secret, 0) }, stopAtClient);
    expect(done.stoppedAt).toBeDefined();
  });

  test('wrong codes count toward the lockout: 429 with Retry-After and the sign-in page\'s message, then even the right code waits', async () => {
    const person = await newPerson();
    const enrollment = await server.services.mfa.startTotpEnrollment(person.id);
    expect(await server.services.mfa.confirmTotpEnrollment(person.id, codeAt(enrollment.secret, -1), { ip: '127.0.0.1', via: 'account' })).toMatchObject({ ok: true });
    const agent = new BrowserAgent();
    const first = await start(agent, plain);
    const secondStep = await agent.submit(first.response, formWithButton(first.response.text, 'Sign in'), person, stopAtClient);
    expect(headingOf(secondStep.response.text)).toBe('Two-step verification');
    const form = formWithButton(secondStep.response.text, 'Verify');
    const wrong = String((Number(codeAt(enrollment.secret, 0)) + 500_000) % 1_000_000).padStart(6, '0');

    let answer = await agent.submit(secondStep.response, form, { code: wrong }, stopAtClient);
    for (let attempt = 1; answer.response.status === 200 && attempt < 15; attempt++) {
      expect(answer.response.text).toContain('That code is not right.');
      answer = await agent.submit(secondStep.response, form, { code: wrong }, stopAtClient);
    }
    expect(answer.response.status).toBe(429);
    const retryAfter = Number(answer.response.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(answer.response.text).toMatch(/Too many attempts\. Try again in \d+ seconds?\./);
    const right = await agent.submit(secondStep.response, form, { code: codeAt(enrollment.secret, 0) }, stopAtClient);
    expect(right.response.status).toBe(429);
    expect(right.stoppedAt).toBeUndefined();
  });
});
