// /account/two-step over HTTP: an authenticator app turned on with its first
// code, the recovery codes shown once, new recovery codes and turning it off
// (each asking for a code), CSRF and sign-in required, wrong codes counted
// toward the lockout. The browser's view is test/e2e/two-step.test.ts.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import * as OTPAuth from 'otpauth';
import { startTestServer, type TestServer } from '../support/server.ts';
import { totpSetupPage, twoStepSection } from '../../views/two-step.ts';
import { BrowserAgent, decodeEntities, formWithButton, headingOf, parseForms, type PageResponse } from '../support/browser-agent.ts';

interface Person { username: string; password: string; id?: string }

const codeAt = (secret: string, seconds: number) => new OTPAuth.TOTP({
  secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30,
}).generate({ timestamp: seconds * 1000 });
const nowSeconds = () => Date.now() / 1000;
/** a six-digit code that is none of the secret's current window */
const wrongCodeFor = (secret: string) => {
  const live = [-30, 0, 30].map((o) => codeAt(secret, nowSeconds() + o));
  return ['000000', '111111', '222222', '333333'].find((c) => !live.includes(c))!;
};

const LOCKOUT = { maxConsecutiveFailures: 3, baseDelaySeconds: 30, maxDelaySeconds: 600, perIpPerMinute: 1000, perIpAndUsernamePerMinute: 1000 };

describe('two-step views', () => {
  const setup = (qrSvg: string) => totpSetupPage({ csrfToken: 't', secret: 'ABCDEFGH', qrSvg, replacing: false, requestId: 'r' });

  test('the QR code is shown only as a plain SVG: anything that could run or load is left out', () => {
    expect(setup('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><path d="M0 0h1"/></svg>')).toContain('<svg role="img" aria-label=');
    for (const hostile of [
      '<svg onload="alert(1)"><path/></svg>',
      '<svg viewBox="0 0 1 1"><script>alert(1)</script></svg>',
      '<svg viewBox="0 0 1 1"><image href="https://evil.example/x.png"/></svg>',
      '<svg viewBox="0 0 1 1" style="background:red"></svg>',
      '<img src=x onerror=alert(1)>',
      '<svg viewBox="0 0 1 1"></svg><script>alert(1)</script>',
    ]) expect(setup(hostile)).not.toMatch(/<svg|<script|<img|onload|onerror|style=/);
  });

  test('no summary, no section; the section says what is on', () => {
    expect(twoStepSection(undefined, 't')).toBe('');
    expect(String(twoStepSection({ totp: true, recoveryCodesLeft: 1 }, 't'))).toContain('1 recovery code left');
    expect(String(twoStepSection({ totp: true, recoveryCodesLeft: 0 }, 't'))).toContain('No recovery codes left');
  });
});

describe('/account/two-step over HTTP', () => {
  let server: TestServer;
  let n = 0;
  beforeAll(async () => {
    server = await startTestServer({ database: 'memory', config: { lockout: LOCKOUT } });
  });
  afterAll(async () => { await server?.stop(); });

  const url = (path: string) => new URL(path, server.url).href;

  async function newPerson(): Promise<Person> {
    n += 1;
    const person: Person = { username: `person${n}`, password: `password-of-${n}-long` };
    person.id = (await server.createUser(person)).id;
    return person;
  }

  async function signIn(agent: BrowserAgent, person: Person): Promise<PageResponse> {
    const { response: login } = await agent.follow(url('/account'));
    expect(headingOf(login.text)).toBe('Sign in');
    const { response } = await agent.submit(login, formWithButton(login.text, 'Sign in'), { username: person.username, password: person.password });
    expect(headingOf(response.text)).toBe('Your account');
    return response;
  }

  const secretOf = (page: PageResponse) => {
    const match = /<code id="totp-secret">([^<]+)<\/code>/.exec(page.text);
    if (!match) throw new Error('no secret on the page');
    return decodeEntities(match[1]).replace(/\s+/g, '');
  };
  const recoveryCodesOf = (page: PageResponse) => {
    const list = /<ol [^>]*id="recovery-codes"[^>]*>([\s\S]*?)<\/ol>/.exec(page.text);
    return list ? [...list[1].matchAll(/<code>([^<]+)<\/code>/g)].map((m) => m[1]) : [];
  };
  const alertOf = (page: PageResponse) => {
    const match = /<p class="alert" role="alert"[^>]*>([^<]*)<\/p>/.exec(page.text);
    return match ? decodeEntities(match[1]) : undefined;
  };
  const statusOf = (page: PageResponse) => decodeEntities(/<p id="totp-status">([\s\S]*?)<\/p>/.exec(page.text)?.[1].replace(/<[^>]+>/g, '') ?? '');

  /** Signed in, set up, turned on: the account page's browser, the secret and the recovery codes. */
  async function enrolled(person: Person) {
    const agent = new BrowserAgent();
    const account = await signIn(agent, person);
    const { response: setup } = await agent.submit(account, formWithButton(account.text, 'Set up authenticator app'));
    const secret = secretOf(setup);
    const { response: codes } = await agent.submit(setup, formWithButton(setup.text, 'Turn on'), { code: codeAt(secret, nowSeconds()) });
    expect(headingOf(codes.text)).toBe('Save your recovery codes');
    return { agent, secret, recoveryCodes: recoveryCodesOf(codes) };
  }

  test('the account page shows the section; setting up shows a QR code and the key, and the first code turns it on', async () => {
    const person = await newPerson();
    const agent = new BrowserAgent();
    const account = await signIn(agent, person);
    expect(account.text).toContain('<h2 id="two-step-heading">Two-step verification</h2>');
    expect(statusOf(account)).toBe('Authenticator app: off.');

    const { response: setup } = await agent.submit(account, formWithButton(account.text, 'Set up authenticator app'));
    expect(setup.status).toBe(200);
    expect(setup.url).toBe(url('/account/two-step/totp'));
    expect(headingOf(setup.text)).toBe('Set up an authenticator app');
    expect(setup.headers.get('cache-control')).toContain('no-store');
    const csp = setup.headers.get('content-security-policy')!;
    expect(csp).not.toContain('unsafe-inline');
    // the QR code is inline markup with a name, styled by nothing the CSP would refuse
    expect(setup.text).toMatch(/<svg role="img" aria-label="QR code to scan with your authenticator app" width="200" height="200" [^>]*viewBox=/);
    expect(setup.text).not.toMatch(/\sstyle=|<script|<img/i);
    const secret = secretOf(setup);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(setup.text).toContain(`<code id="totp-secret">${secret.match(/.{4}/g)!.join(' ')}</code>`);
    expect(setup.text).toContain('<label for="code">Code</label>');
    expect(setup.text).toMatch(/<input type="text" id="code" name="code" autocomplete="one-time-code" inputmode="numeric"/);
    const form = formWithButton(setup.text, 'Turn on');
    expect(form.method).toBe('post');
    expect(form.fields.csrf).toBeTruthy();

    // shown again as it was (a reload), not replaced
    const again = await agent.request(url('/account/two-step/totp'));
    expect(secretOf(again)).toBe(secret);

    // a wrong code: the same page, the same secret, and what is wrong
    const { response: wrong } = await agent.submit(setup, form, { code: wrongCodeFor(secret) });
    expect(wrong.status).toBe(200);
    expect(headingOf(wrong.text)).toBe('Set up an authenticator app');
    expect(alertOf(wrong)).toMatch(/^That code is not right/);
    expect(wrong.text).toContain('aria-describedby="code-hint code-error"');
    expect(secretOf(wrong)).toBe(secret);
    expect((await server.services.mfa.factorsOf(person.id!)).totp).toBe(false);

    // the right one: on, and the ten recovery codes, shown in the answer to the POST
    const code = codeAt(secret, nowSeconds());
    const { response: saved } = await agent.submit(wrong, formWithButton(wrong.text, 'Turn on'), { code });
    expect(saved.status).toBe(200);
    expect(saved.url).toBe(url('/account/two-step/totp'));
    expect(headingOf(saved.text)).toBe('Save your recovery codes');
    expect(saved.headers.get('cache-control')).toContain('no-store');
    const codes = recoveryCodesOf(saved);
    expect(codes).toHaveLength(10);
    expect(saved.text).toMatch(/<a href="\/account">Done<\/a>/);
    expect(await server.services.mfa.factorsOf(person.id!)).toEqual({ totp: true, passkeys: 0, recoveryCodesLeft: 10 });

    // never again: the setup page is gone, the account page shows counts only
    const after = await agent.request(url('/account/two-step/totp'));
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/account');
    const { response: page } = await agent.follow(url('/account'));
    expect(statusOf(page)).toBe('Authenticator app: on. 10 recovery codes left.');
    for (const c of codes) expect(page.text).not.toContain(c);
    expect(page.text).not.toContain(secret);
    // the code that turned it on was spent
    expect(await server.services.mfa.verifyCode(person.id!, code, { ip: '127.0.0.1', via: 'login_page' })).toEqual({ ok: false, reason: 'invalid' });
  });

  test('new recovery codes need a code, are shown once, and replace the old ones', async () => {
    const person = await newPerson();
    const { agent, recoveryCodes } = await enrolled(person);
    const { response: account } = await agent.follow(url('/account'));
    expect(account.text).toContain('<a href="/account/two-step/recovery-codes">Create new recovery codes</a>');
    const page = await agent.request(url('/account/two-step/recovery-codes'));
    expect(headingOf(page.text)).toBe('Create new recovery codes');
    // recovery codes are typed here too: no numeric keyboard
    expect(page.text).not.toContain('inputmode="numeric"');
    const form = formWithButton(page.text, 'Create new recovery codes');

    const { response: wrong } = await agent.submit(page, form, { code: 'aaaa-bbbb-cccc' });
    expect(wrong.status).toBe(200);
    expect(alertOf(wrong)).toMatch(/^That code is not right/);
    expect(recoveryCodesOf(wrong)).toEqual([]);

    const { response: fresh } = await agent.submit(page, form, { code: recoveryCodes[0].toUpperCase() });
    expect(headingOf(fresh.text)).toBe('Save your recovery codes');
    const next = recoveryCodesOf(fresh);
    expect(next).toHaveLength(10);
    expect(fresh.text).toContain('Your earlier recovery codes no longer work.');
    expect(await server.services.mfa.verifyCode(person.id!, recoveryCodes[1], { ip: '127.0.0.1', via: 'login_page' })).toEqual({ ok: false, reason: 'invalid' });
    expect(await server.services.mfa.verifyCode(person.id!, next[0], { ip: '127.0.0.1', via: 'login_page' })).toEqual({ ok: true, method: 'recovery_code' });
    const { response: after } = await agent.follow(url('/account'));
    expect(statusOf(after)).toBe('Authenticator app: on. 9 recovery codes left.');
  });

  test('turning it off needs a current code or a recovery code', async () => {
    const person = await newPerson();
    const { agent, secret } = await enrolled(person);
    const page = await agent.request(url('/account/two-step/totp/off'));
    expect(headingOf(page.text)).toBe('Turn off the authenticator app');
    const form = formWithButton(page.text, 'Turn off');

    const { response: wrong } = await agent.submit(page, form, { code: wrongCodeFor(secret) });
    expect(wrong.status).toBe(200);
    expect(alertOf(wrong)).toMatch(/^That code is not right/);
    expect((await server.services.mfa.factorsOf(person.id!)).totp).toBe(true);

    // the next step's code (the current step's was spent turning it on; +1 step is accepted)
    const { response: done } = await agent.submit(page, form, { code: codeAt(secret, nowSeconds() + 30) });
    expect(done.url).toBe(url('/account?notice=totp-off'));
    expect(done.text).toContain('The authenticator app is off');
    expect(statusOf(done)).toBe('Authenticator app: off.');
    expect(await server.services.mfa.factorsOf(person.id!)).toEqual({ totp: false, passkeys: 0, recoveryCodesLeft: 0 });
    // nothing to turn off now
    const gone = await agent.request(url('/account/two-step/totp/off'));
    expect(gone.status).toBe(303);
  });

  test('setting up a new app while one is on needs a current code; the old one works until the new one is on', async () => {
    const person = await newPerson();
    const { agent, secret: old, recoveryCodes } = await enrolled(person);
    const { response: account } = await agent.follow(url('/account'));
    expect(account.text).toContain('<a href="/account/two-step/totp/new">Set up a new authenticator app</a>');
    const ask = await agent.request(url('/account/two-step/totp/new'));
    expect(headingOf(ask.text)).toBe('Set up a new authenticator app');
    const form = formWithButton(ask.text, 'Continue');
    // no code, or a wrong one: no new secret
    for (const code of ['', 'aaaa-bbbb-cccc']) {
      const { response: wrong } = await agent.submit(ask, form, { code });
      expect(wrong.status).toBe(200);
      expect(alertOf(wrong)).toMatch(/^That code is not right/);
      expect(await server.services.mfa.pendingTotpEnrollment(person.id!)).toBeUndefined();
    }
    const { response: setup } = await agent.submit(ask, form, { code: recoveryCodes[0] });
    expect(setup.url).toBe(url('/account/two-step/totp'));
    expect(setup.text).toContain('Your current app keeps working until the new one is turned on.');
    const fresh = secretOf(setup);
    expect(fresh).not.toBe(old);
    expect((await server.services.mfa.factorsOf(person.id!)).totp).toBe(true);
    expect(await server.services.mfa.verifyCode(person.id!, codeAt(old, nowSeconds() + 30), { ip: '127.0.0.1', via: 'login_page' })).toEqual({ ok: true, method: 'totp' });
  });

  test('forms need the session\'s CSRF token and a signed-in person; pages need a sign-in', async () => {
    const person = await newPerson();
    const { agent, recoveryCodes } = await enrolled(person);
    const other = new BrowserAgent();
    const otherAccount = await signIn(other, await newPerson());
    const foreignToken = parseForms(otherAccount.text).find((f) => f.fields.csrf)!.fields.csrf;

    const post = (who: BrowserAgent, path: string, fields: Record<string, string>) =>
      who.request(url(path), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
    for (const path of ['/account/two-step/totp/start', '/account/two-step/totp', '/account/two-step/totp/off', '/account/two-step/recovery-codes']) {
      for (const csrf of ['', 'forged', foreignToken]) {
        const answer = await post(agent, path, { csrf, code: recoveryCodes[0] });
        expect([path, csrf, answer.status]).toEqual([path, csrf, 403]);
        expect(headingOf(answer.text)).toBe('This form has expired');
      }
      // not signed in
      const anonymous = await post(new BrowserAgent(), path, { csrf: foreignToken, code: recoveryCodes[0] });
      expect(anonymous.status).toBe(403);
    }
    // nothing was done: still on, the code still unused
    expect(await server.services.mfa.factorsOf(person.id!)).toEqual({ totp: true, passkeys: 0, recoveryCodesLeft: 10 });
    for (const path of ['/account/two-step/totp', '/account/two-step/totp/new', '/account/two-step/totp/off', '/account/two-step/recovery-codes']) {
      const anonymous = await new BrowserAgent().request(url(path));
      expect(anonymous.status).toBe(303);
      expect(new URL(anonymous.headers.get('location')!).pathname).toBe('/auth');
    }
    // hostile input is a refused code, never an error
    const page = await agent.request(url('/account/two-step/totp/off'));
    const form = formWithButton(page.text, 'Turn off');
    for (const code of ['x'.repeat(2_000), '１２３４５６', '<script>', 'x'.repeat(20_000)]) {
      const { response } = await agent.submit(page, form, { code });
      // (a code over http.maxParameterLength is a 400 page, src/http/input-limits.ts)
      expect(response.status).toBe(code.length > 8192 ? 400 : 200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.text).not.toContain('<script>');
    }
  });

  test('wrong codes lock the account (429 with Retry-After), as wrong passwords do', async () => {
    const person = await newPerson();
    const { agent, secret } = await enrolled(person);
    const page = await agent.request(url('/account/two-step/totp/off'));
    const form = formWithButton(page.text, 'Turn off');
    for (let i = 0; i < LOCKOUT.maxConsecutiveFailures; i += 1) {
      const { response } = await agent.submit(page, form, { code: wrongCodeFor(secret) });
      expect(response.status).toBe(200);
    }
    const { response: locked } = await agent.submit(page, form, { code: codeAt(secret, nowSeconds() + 30) });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(alertOf(locked)).toMatch(/^Too many attempts\. Try again in \d+ seconds?\.$/);
    expect((await server.services.mfa.factorsOf(person.id!)).totp).toBe(true);
    // and the password too
    expect(await server.services.verifyCredentials(person.username, person.password, { ip: '127.0.0.1' })).toMatchObject({ ok: false, reason: 'locked' });
  });
});
