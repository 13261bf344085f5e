import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import Koa from 'koa';
import { errors } from 'oidc-provider';
import type { default as Provider, KoaContextWithOIDC } from 'oidc-provider';
import { html, raw, escapeHtml, SafeHtml } from '../../views/html.ts';
import { layout } from '../../views/layout.ts';
import { loginPage, INCORRECT_CREDENTIALS_MESSAGE } from '../../views/login.ts';
import { consentPage } from '../../views/consent.ts';
import { logoutPage, loggedOutPage } from '../../views/logout.ts';
import { errorPage } from '../../views/error.ts';
import { csrfTokenFor, isValidCsrfToken } from '../../src/interactions/csrf.ts';
import { describeScope, describeResourceScopes } from '../../src/interactions/scopes.ts';
import { createInteractionRouter, renderLogoutSource, renderPostLogoutSuccess, renderProviderError } from '../../src/interactions/index.ts';
import type { VerifyCredentialsResult } from '../../src/interactions/routes.ts';

const EVIL = '<script>alert("x")</script>';
const EVIL_ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;';

/** `<label for=X>` exists and an element with id=X exists. */
function labelledControl(page: string, label: string): string {
  const m = new RegExp(`<label for="([^"]+)">${label}</label>`).exec(page);
  expect(m).not.toBeNull();
  const id = m![1];
  const control = new RegExp(`<input[^>]*\\bid="${id}"[^>]*>`).exec(page);
  expect(control).not.toBeNull();
  return control![0];
}

describe('html tag', () => {
  test('escapes every interpolated value', () => {
    expect(html`<p>${`&<>"'\``}</p>`.toString()).toBe('<p>&amp;&lt;&gt;&quot;&#39;&#96;</p>');
    expect(escapeHtml(EVIL)).toBe(EVIL_ESCAPED);
  });

  test('keeps SafeHtml from html and raw, joins arrays, drops null/undefined/false', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(inner).toBeInstanceOf(SafeHtml);
    expect(html`${inner}${raw('<hr>')}`.toString()).toBe('<b>&lt;i&gt;</b><hr>');
    expect(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.toString())
      .toBe('<ul><li>a&lt;</li><li>b</li></ul>');
    expect(html`${['<x>', raw('<y>')]}`.toString()).toBe('&lt;x&gt;<y>');
    expect(html`${null}${undefined}${false}${0}`.toString()).toBe('0');
  });

  test('a look-alike object is not trusted', () => {
    const forged = { toString: () => '<script>' };
    expect(html`${forged}`.toString()).toBe('&lt;script&gt;');
  });
});

describe('layout', () => {
  test('is a complete HTML5 page without scripts or external assets', () => {
    const page = layout({ title: EVIL, body: html`<p>hi</p>`, requestId: 'req-123' });
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(page).toContain('<html lang="en">');
    expect(page).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(page).toContain(`<title>${EVIL_ESCAPED} · Tessera</title>`);
    expect(page).toContain('req-123');
    expect(page).not.toMatch(/<script|<link|@import|url\(|https?:\/\//i);
  });

  test('omits the footer without a request id', () => {
    expect(layout({ title: 't', body: html`` })).not.toContain('<footer');
  });
});

describe('login page', () => {
  const base = { action: '/interaction/abc/login', csrfToken: 'tok', clientName: 'App', requestId: 'r1' };

  test('labels are tied to inputs with the right autocomplete', () => {
    const page = loginPage(base);
    const username = labelledControl(page, 'Username');
    expect(username).toContain('name="username"');
    expect(username).toContain('autocomplete="username"');
    const password = labelledControl(page, 'Password');
    expect(password).toContain('type="password"');
    expect(password).toContain('name="password"');
    expect(password).toContain('autocomplete="current-password"');
    expect(page).toContain('<input type="hidden" name="csrf" value="tok">');
    expect(page).toContain('<form method="post" action="/interaction/abc/login">');
    expect(page).toContain('<button type="submit">Sign in</button>');
    expect(page).not.toContain('role="alert"');
  });

  test('escapes client name, username and error', () => {
    const page = loginPage({ ...base, clientName: EVIL, username: `"><img src=x onerror=alert(1)>`, error: EVIL });
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<img');
    expect(page).toContain(EVIL_ESCAPED);
    expect(page).toContain('value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"');
  });

  test('shows the error in an alert', () => {
    const page = loginPage({ ...base, error: INCORRECT_CREDENTIALS_MESSAGE });
    expect(page).toContain(`<p class="alert" role="alert">${INCORRECT_CREDENTIALS_MESSAGE}</p>`);
    expect(INCORRECT_CREDENTIALS_MESSAGE).toBe('Incorrect username or password.');
  });
});

describe('consent page', () => {
  const page = consentPage({
    action: '/interaction/u1/confirm',
    abortAction: '/interaction/u1/abort',
    csrfToken: 'tok',
    clientName: EVIL,
    scopes: [{ name: 'email', description: describeScope('email') }],
    resources: [{ identifier: 'https://api.example', name: 'Example API', scopes: describeResourceScopes(['read:things']) }],
    requestId: 'r2',
  });

  test('names the client (escaped), the scopes in words and the resource', () => {
    expect(page).not.toContain('<script>alert');
    expect(page).toContain(EVIL_ESCAPED);
    expect(page).toContain('See your email address');
    expect(page).toContain('Example API');
    expect(page).toContain('https://api.example');
    expect(page).toContain('read:things');
  });

  test('a name cannot reorder the page around it: bidirectional controls are dropped from interpolated text (T179)', () => {
    const spoof = consentPage({
      action: '/interaction/u1/confirm', abortAction: '/interaction/u1/abort', csrfToken: 'tok',
      clientName: 'Notes\u202E\u2067', clientHost: 'evil.example', scopes: [], resources: [], requestId: 'r3',
    });
    expect(spoof).toContain('Notes');
    expect(spoof).toContain('evil.example');
    expect(spoof).not.toMatch(/[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/);
    expect(html`${'a\u202Db\u200Ec'}`.toString()).toBe('abc');
  });

  test('Allow and Deny are separate POST forms carrying the csrf field', () => {
    const forms = [...page.matchAll(/<form method="post" action="([^"]+)">(.*?)<\/form>/gs)];
    expect(forms.map((f) => f[1])).toEqual(['/interaction/u1/confirm', '/interaction/u1/abort']);
    expect(forms[0][2]).toMatch(/<button type="submit"[^>]*>Allow<\/button>/);
    expect(forms[1][2]).toMatch(/<button type="submit"[^>]*>Deny<\/button>/);
    for (const f of forms) expect(f[2]).toContain('<input type="hidden" name="csrf" value="tok">');
  });
});

describe('logout pages', () => {
  test('logout page embeds the provider form and both buttons', () => {
    const form = '<form id="op.logoutForm" method="post" action="/session/end/confirm"><input type="hidden" name="xsrf" value="s"/></form>';
    const page = logoutPage({ form, clientName: EVIL, requestId: 'r3' });
    expect(page).toContain(form);
    expect(page).toContain('<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>');
    // staying changes nothing: a GET to /account, not the provider's form (which would end the client's part of the session)
    expect(page).toContain('<form method="get" action="/account"><button type="submit" class="secondary">Stay signed in</button></form>');
    expect(page).toContain(`<h1>Sign out of ${EVIL_ESCAPED}?</h1>`);
    expect(page).toContain(EVIL_ESCAPED);
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('not registered');
  });

  test('logout page without a client, and with a return address the client has not registered', () => {
    const form = '<form id="op.logoutForm" method="post" action="/session/end/confirm"></form>';
    expect(logoutPage({ form, requestId: 'r5' })).toContain('<h1>Sign out?</h1>');
    const page = logoutPage({ form, clientName: 'Notes', unregisteredReturn: true, requestId: 'r6' });
    expect(page).toContain('Notes gave a return address it has not registered, so you will stay here after signing out.');
    // a client that registered itself, without an id_token_hint (T178)
    const unconfirmed = logoutPage({ form, clientName: EVIL, unconfirmedReturn: true, requestId: 'r7' });
    expect(unconfirmed).toContain(`${EVIL_ESCAPED} registered itself and did not show that you signed in to it, so you will stay here after signing out.`);
    expect(unconfirmed).not.toContain('<script>alert');
  });

  test('logged-out page', () => {
    const page = loggedOutPage({ clientName: EVIL, requestId: 'r4' });
    expect(page).toContain('You are signed out');
    expect(page).toContain(EVIL_ESCAPED);
  });

  test('error page shows message and request id', () => {
    const page = errorPage({ title: 'Oops', message: EVIL, requestId: 'req-9' });
    expect(page).toContain(EVIL_ESCAPED);
    expect(page).toContain('req-9');
  });
});

describe('scope descriptions', () => {
  test('standard scopes are described in words, others fall back', () => {
    for (const s of ['openid', 'profile', 'email', 'offline_access', 'roles']) {
      expect(describeScope(s)).not.toContain(`“${s}”`);
    }
    expect(describeScope('billing:read')).toContain('billing:read');
    expect(describeScope('constructor')).toContain('constructor');
  });
});

describe('csrf token', () => {
  const secret = 'a-test-secret-of-reasonable-length';
  test('valid for its own uid only', () => {
    const token = csrfTokenFor(secret, 'uid-1');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(isValidCsrfToken(secret, 'uid-1', token)).toBe(true);
    expect(isValidCsrfToken(secret, 'uid-2', token)).toBe(false);
    expect(isValidCsrfToken('another-secret', 'uid-1', token)).toBe(false);
  });
  test('rejects malformed tokens', () => {
    const token = csrfTokenFor(secret, 'uid-1');
    for (const bad of ['', token.slice(1), `${token}x`, token.toUpperCase(), undefined, null, 42, [token]]) {
      expect(isValidCsrfToken(secret, 'uid-1', bad)).toBe(false);
    }
  });
});

// ---- routes, against a stand-in provider (the real one is covered by integration tests) ----

const SECRET = 'csrf-secret-for-tests';
const UID = 'interaction-uid-1';

interface FakeState {
  interaction: Record<string, unknown> | undefined;
  results: Array<{ result: Record<string, unknown>; merge: boolean | undefined }>;
  savedGrants: Array<Record<string, unknown>>;
  verifyCalls: Array<{ username: string; password: string }>;
  verify: (u: string, p: string) => VerifyCredentialsResult;
}

const state: FakeState = {
  interaction: undefined, results: [], savedGrants: [], verifyCalls: [], verify: () => ({ ok: false, reason: 'invalid' }),
};

class FakeGrant {
  static async find(id: string) {
    return id === 'existing-grant' ? Object.assign(new FakeGrant({ accountId: 'acc-1', clientId: 'client-1' }), { jti: id }) : undefined;
  }
  jti: string | undefined;
  accountId: string;
  clientId: string;
  scope = '';
  claims: string[] = [];
  resources: Record<string, string> = {};
  constructor({ accountId, clientId }: { accountId: string; clientId: string }) {
    this.accountId = accountId;
    this.clientId = clientId;
  }
  addOIDCScope(s: string) { this.scope = [this.scope, s].filter(Boolean).join(' '); }
  addOIDCClaims(c: string[]) { this.claims.push(...c); }
  addResourceScope(r: string, s: string) { this.resources[r] = s; }
  async save() {
    state.savedGrants.push({ ...this } as Record<string, unknown>);
    return this.jti ?? 'new-grant';
  }
}

const fakeProvider = {
  async interactionDetails() {
    if (!state.interaction) throw new errors.SessionNotFound('interaction session not found');
    return state.interaction;
  },
  async interactionResult(_req: unknown, _res: unknown, result: Record<string, unknown>, opts?: { mergeWithLastSubmission?: boolean }) {
    state.results.push({ result, merge: opts?.mergeWithLastSubmission });
    return `http://localhost/auth/${UID}`;
  },
  Client: { async find(id: string) { return id === 'client-1' ? { clientId: id, clientName: EVIL } : undefined; } },
  Grant: FakeGrant,
} as unknown as Provider;

let server: Server;
let base: string;

beforeAll(async () => {
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx, next) => { ctx.state.requestId = 'req-fixed'; await next(); });
  const router = createInteractionRouter({
    provider: fakeProvider,
    csrfSecret: SECRET,
    accounts: {
      async verifyCredentials(username, password) {
        state.verifyCalls.push({ username, password });
        return state.verify(username, password);
      },
    },
    resourceName: async (id) => (id === 'https://api.example' ? 'Example API' : undefined),
    // nobody here has a second factor: the password alone signs in (the second step has tests of its own)
    mfa: {
      async factorsOf() { return { totp: false, passkeys: 0, recoveryCodesLeft: 0 }; },
      async verifyCode() { return { ok: false, reason: 'invalid' }; },
      async startTotpEnrollment() { throw new Error('no enrollment here'); },
      async pendingTotpEnrollment() { return undefined; },
      async confirmTotpEnrollment() { return { ok: false, reason: 'no_enrollment' }; },
    },
  });
  app.use(router.routes());
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.close();
  await once(server, 'close');
});

beforeEach(() => {
  state.interaction = {
    uid: UID,
    params: { client_id: 'client-1' },
    prompt: { name: 'login', reasons: ['no_session'], details: {} },
  };
  state.results = [];
  state.savedGrants = [];
  state.verifyCalls = [];
  state.verify = () => ({ ok: false, reason: 'invalid' });
});

function post(path: string, fields: Record<string, string>) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

const csrf = csrfTokenFor(SECRET, UID);

describe('interaction routes', () => {
  test('GET shows the login page, escaped, not cached', async () => {
    const res = await fetch(`${base}/interaction/${UID}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await res.text();
    expect(page).toContain(`action="/interaction/${UID}/login"`);
    expect(page).toContain(`value="${csrf}"`);
    expect(page).toContain(EVIL_ESCAPED);
    expect(page).not.toContain('<script>alert');
    expect(page).toContain('req-fixed');
  });

  test('unknown user and wrong password give the identical page', async () => {
    state.verify = () => ({ ok: false, reason: 'invalid' });
    const a = await post(`/interaction/${UID}/login`, { csrf, username: 'nobody', password: 'pw' });
    const b = await post(`/interaction/${UID}/login`, { csrf, username: 'alice', password: 'wrong' });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const pageA = await a.text();
    const pageB = await b.text();
    expect(pageA).toContain(`role="alert">${INCORRECT_CREDENTIALS_MESSAGE}<`);
    expect(pageA.replace('value="nobody"', 'value="alice"')).toBe(pageB);
  });

  test('successful login finishes the interaction with amr pwd', async () => {
    state.verify = (u, p) => (u === 'alice' && p === 'right' ? { ok: true, accountId: 'acc-1', secondFactorFollows: false } : { ok: false, reason: 'invalid' });
    const res = await post(`/interaction/${UID}/login`, { csrf, username: 'alice', password: 'right' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`http://localhost/auth/${UID}`);
    expect(state.results).toHaveLength(1);
    expect(state.results[0].merge).toBe(false);
    expect(state.results[0].result).toMatchObject({ login: { accountId: 'acc-1', amr: ['pwd'] } });
  });

  test('locked account: 429 with Retry-After and a clear message', async () => {
    state.verify = () => ({ ok: false, reason: 'locked', retryAfterSeconds: 42 });
    const res = await post(`/interaction/${UID}/login`, { csrf, username: 'alice', password: 'x' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('42');
    expect(await res.text()).toContain('Too many attempts. Try again in 42 seconds.');
  });

  test('bad or missing csrf: 403 error page, credentials never checked', async () => {
    for (const token of ['', 'forged', csrfTokenFor(SECRET, 'other-uid')]) {
      const res = await post(`/interaction/${UID}/login`, { csrf: token, username: 'alice', password: 'x' });
      expect(res.status).toBe(403);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.text()).toContain('req-fixed');
    }
    expect(state.verifyCalls).toHaveLength(0);
  });

  test('expired interaction: friendly 400 page without internals', async () => {
    state.interaction = undefined;
    const res = await fetch(`${base}/interaction/${UID}`);
    expect(res.status).toBe(400);
    const page = await res.text();
    expect(page).toContain('expired');
    expect(page).not.toMatch(/SessionNotFound|at .*\.js|interaction session not found/);
  });

  test('uid in the path must match the interaction of the cookie', async () => {
    const res = await fetch(`${base}/interaction/some-other-uid`);
    expect(res.status).toBe(400);
  });

  test('malformed and oversized bodies never produce a 5xx', async () => {
    const nested = await fetch(`${base}/interaction/${UID}/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${csrf}&username[a]=1&password[]=2`,
    });
    expect(nested.status).toBe(200);
    expect(state.verifyCalls).toHaveLength(0);
    const json = await fetch(`${base}/interaction/${UID}/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"csrf":',
    });
    expect(json.status).toBe(403);
    const big = await post(`/interaction/${UID}/login`, { csrf, username: 'a', password: 'x'.repeat(100_000) });
    expect(big.status).toBe(413);
    expect(await big.text()).toContain('req-fixed');
    const badEncoding = await fetch(`${base}/interaction/${UID}/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=bogus' }, body: 'a=b',
    });
    expect(badEncoding.status).toBeLessThan(500);
  });

  test('consent page lists scopes in words, resource names and carries csrf in both forms', async () => {
    state.interaction = {
      uid: UID,
      params: { client_id: 'client-1' },
      session: { accountId: 'acc-1' },
      prompt: {
        name: 'consent',
        reasons: ['op_scopes_missing'],
        details: { missingOIDCScope: ['openid', 'email'], missingResourceScopes: { 'https://api.example': ['read'] } },
      },
    };
    const res = await fetch(`${base}/interaction/${UID}`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain(describeScope('email'));
    expect(page).toContain('Example API');
    expect(page).toContain(`action="/interaction/${UID}/confirm"`);
    expect(page).toContain(`action="/interaction/${UID}/abort"`);
    expect(page.match(new RegExp(`name="csrf" value="${csrf}"`, 'g'))).toHaveLength(2);
  });

  test('confirm builds and saves the grant, then finishes with its id', async () => {
    state.interaction = {
      uid: UID,
      params: { client_id: 'client-1' },
      session: { accountId: 'acc-1' },
      prompt: {
        name: 'consent',
        reasons: [],
        details: {
          missingOIDCScope: ['openid', 'email'],
          missingOIDCClaims: ['nickname'],
          missingResourceScopes: { 'https://api.example': ['read', 'write'] },
        },
      },
    };
    const res = await post(`/interaction/${UID}/confirm`, { csrf });
    expect(res.status).toBe(303);
    expect(state.savedGrants).toEqual([expect.objectContaining({
      accountId: 'acc-1', clientId: 'client-1', scope: 'openid email', claims: ['nickname'],
      resources: { 'https://api.example': 'read write' },
    })]);
    expect(state.results[0].result).toEqual({ consent: { grantId: 'new-grant' } });

    state.interaction.grantId = 'existing-grant';
    await post(`/interaction/${UID}/confirm`, { csrf });
    expect(state.results[1].result).toEqual({ consent: { grantId: 'existing-grant' } });
  });

  test('confirm on a login prompt is refused', async () => {
    const res = await post(`/interaction/${UID}/confirm`, { csrf });
    expect(res.status).toBe(400);
    expect(state.results).toHaveLength(0);
  });

  test('abort finishes with access_denied', async () => {
    const res = await post(`/interaction/${UID}/abort`, { csrf });
    expect(res.status).toBe(303);
    expect(state.results[0].result).toEqual({ error: 'access_denied', error_description: 'End-User aborted interaction' });
    const forged = await post(`/interaction/${UID}/abort`, { csrf: 'nope' });
    expect(forged.status).toBe(403);
  });
});

describe('provider render helpers', () => {
  function fakeCtx(status = 200, client?: { clientId: string; clientName?: string }) {
    const headers: Record<string, string> = {};
    return {
      status, state: { requestId: 'req-p' }, oidc: { client }, type: '', body: '' as unknown,
      set(k: string, v: string) { headers[k.toLowerCase()] = v; }, headers,
    };
  }

  test('renderProviderError shows the description, never the stack', async () => {
    const ctx = fakeCtx(400);
    const err = new Error('internal detail');
    await renderProviderError(ctx as unknown as KoaContextWithOIDC, { error: 'invalid_request', error_description: 'missing required parameter' }, err);
    expect(ctx.type).toBe('html');
    expect(ctx.body).toContain('missing required parameter');
    expect(ctx.body).toContain('req-p');
    expect(ctx.body).not.toContain('internal detail');
    expect(ctx.body).not.toContain('invalid_request');

    const ctx500 = fakeCtx(500);
    await renderProviderError(ctx500 as unknown as KoaContextWithOIDC, { error: 'server_error', error_description: 'oops! something went wrong' }, err);
    expect(ctx500.body).toContain('Something went wrong');
    expect(ctx500.body).not.toContain(err.stack!.split('\n')[1]);
  });

  test('request id falls back to the X-Request-Id response header set by the outer app', async () => {
    const ctx = { ...fakeCtx(400), state: {}, response: { get: (h: string) => (h.toLowerCase() === 'x-request-id' ? 'hdr-7' : '') } };
    await renderProviderError(ctx as unknown as KoaContextWithOIDC, { error: 'invalid_request' }, new Error('x'));
    expect(ctx.body).toContain('hdr-7');
  });

  test('logout helpers render the logout and signed-out pages', async () => {
    const ctx = fakeCtx(200, { clientId: 'c', clientName: EVIL });
    await renderLogoutSource(ctx as unknown as KoaContextWithOIDC, '<form id="op.logoutForm"></form>');
    expect(ctx.body).toContain('<form id="op.logoutForm"></form>');
    expect(ctx.body).toContain('>Sign out</button>');
    expect(ctx.body).toContain(EVIL_ESCAPED);
    const done = fakeCtx(200);
    await renderPostLogoutSuccess(done as unknown as KoaContextWithOIDC);
    expect(done.body).toContain('You are signed out');
  });
});
