// Passkeys over HTTP (no browser): the script file, what the pages offer, CSRF
// on every passkey route, hostile input on the pages (never a 5xx), /account's
// passkey forms with a software authenticator, a sign-in without a password
// through the pages, and an issuer at an IP address, which offers no passkeys.
// The browser's view is test/e2e/passkeys.test.ts.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorizationRequest, tokenRequest } from '../support/oauth.ts';
import { BrowserAgent, formWithButton, headingOf, parseForms, type PageResponse } from '../support/browser-agent.ts';
import { softwareAuthenticator } from '../support/software-authenticator.ts';

const USER = { username: 'grace', password: 'grace-has-a-long-password' };
const REDIRECT_URI = 'https://app.example/callback';

/** The CSRF token of the page's passkey form (the one whose button has data-options). */
function passkeyForm(page: PageResponse): { csrf: string; options: string; action: string } {
  const match = /<form[^>]*data-passkey-section[^>]*>([\s\S]*?)<\/form>/.exec(page.text) ?? /<form[^>]*>((?:(?!<\/form>)[\s\S])*id="use-passkey"[\s\S]*?)<\/form>/.exec(page.text);
  if (!match) throw new Error(`no passkey form in:\n${page.text.slice(0, 2000)}`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(match[1])![1];
  const options = /data-options="([^"]+)"/.exec(match[1])![1];
  const action = /data-action="([^"]+)"/.exec(match[1])![1];
  return { csrf, options, action };
}

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields),
});

async function setUp(issuerHost: 'localhost' | '127.0.0.1') {
  const server = await startTestServer({ issuerHost });
  const { clientId, clientSecret } = await server.createClient({
    name: 'Photo Album', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'], firstParty: true,
  });
  const user = await server.createUser(USER);
  return { server, client: { clientId, clientSecret }, userId: user.id };
}

describe('passkeys over HTTP, issuer http://localhost', () => {
  let server: TestServer;
  let client: { clientId: string; clientSecret?: string };
  let userId: string;
  const url = (path: string) => new URL(path, server.issuer).href;

  beforeAll(async () => { ({ server, client, userId } = await setUp('localhost')); });
  afterAll(async () => { await server?.stop(); });

  /** A fresh browser at the sign-in page of an authorization request. */
  async function atSignIn() {
    const agent = new BrowserAgent();
    const request = authorizationRequest({ baseUrl: server.issuer, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: 'openid' });
    const { response } = await agent.follow(request.url);
    expect(headingOf(response.text)).toBe('Sign in');
    return { agent, page: response, verifier: request.verifier };
  }

  /** /account, signed in with the password. */
  async function atAccount(): Promise<{ agent: BrowserAgent; page: PageResponse }> {
    const agent = new BrowserAgent();
    const { response: login } = await agent.follow(url('/account'));
    const { response } = await agent.submit(login, formWithButton(login.text, 'Sign in'), USER);
    expect(headingOf(response.text)).toBe('Your account');
    return { agent, page: response };
  }

  test('/assets/passkeys.js: JavaScript, nosniff, revalidated (304 when unchanged); no other file is served', async () => {
    const answer = await fetch(url('/assets/passkeys.js'));
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('cache-control')).toBe('no-cache');
    expect(await answer.text()).toContain('navigator.credentials');
    const again = await fetch(url('/assets/passkeys.js'), { headers: { 'if-none-match': answer.headers.get('etag')! } });
    expect(again.status).toBe(304);
    for (const path of ['/assets/other.js', '/assets/../package.json', '/assets/%2e%2e/package.json', '/assets/passkeys.js/x']) {
      const other = await fetch(url(path));
      expect([404, 400]).toContain(other.status);
      expect(await other.text()).not.toContain('"dependencies"');
    }
  });

  test('the sign-in page offers "Sign in with a passkey" (hidden until the script shows it) outside the password form', async () => {
    const { page } = await atSignIn();
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.text).toContain('<script src="/assets/passkeys.js" defer></script>');
    expect(page.text).toMatch(/<button type="button" class="secondary" data-options="\/interaction\/[^/"]+\/passkey\/options" data-action="\/interaction\/[^/"]+\/passkey" hidden>Sign in with a passkey<\/button>/);
    const passwordForm = formWithButton(page.text, 'Sign in');
    expect(passwordForm.buttons).not.toContain('Sign in with a passkey');
  });

  test('the passkey routes of the sign-in need the interaction\'s CSRF token; options are JSON for a discoverable credential', async () => {
    const { agent, page } = await atSignIn();
    const { csrf, options, action } = passkeyForm(page);
    for (const token of ['', 'forged', csrf.slice(1)]) {
      expect((await agent.request(url(options), form({ csrf: token }))).status).toBe(403);
      expect((await agent.request(url(action), form({ csrf: token, credential: '{}' }))).status).toBe(403);
    }
    const answer = await agent.request(url(options), { ...form({ csrf }), headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toContain('application/json');
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(answer.text)).toMatchObject({ rpId: 'localhost', userVerification: 'required', allowCredentials: [] });
  });

  test('hostile credentials on the sign-in page: the page again with one message, 400 for what is not JSON, never a 5xx', async () => {
    const { agent, page } = await atSignIn();
    const { csrf, action } = passkeyForm(page);
    const cases: Array<[string, number]> = [
      ['', 400], ['not json', 400], ['[]', 400], ['null', 400], ['"text"', 400], ['x'.repeat(70_000), 400],
      ['{}', 200], ['{"id":"abc","response":{"clientDataJSON":"e30"}}', 200],
    ];
    for (const [credential, status] of cases) {
      const answer = await agent.request(url(action), form({ csrf, credential }));
      expect({ credential: credential.slice(0, 20), status: answer.status }).toEqual({ credential: credential.slice(0, 20), status: credential.length > 65_536 ? 413 : status });
      if (answer.status !== 413) {
        expect(headingOf(answer.text)).toBe('Sign in');
        expect(answer.text).toContain('That passkey did not sign you in.');
      }
    }
  });

  test('/account: add a passkey (CSRF), it is listed; remove needs CSRF and the person\'s own passkey; then it signs in no more', async () => {
    const { agent, page } = await atAccount();
    expect(page.text).toContain('<h2 id="passkeys-heading">Passkeys</h2>');
    expect(page.text).toContain('<label for="passkey-name">Passkey name</label>');
    const { csrf, options, action } = passkeyForm(page);
    expect([options, action]).toEqual(['/account/passkeys/options', '/account/passkeys']);

    expect((await agent.request(url(options), form({ csrf: 'forged' }))).status).toBe(403);
    expect((await new BrowserAgent().request(url(options), form({ csrf }))).status).toBe(403); // no session
    const answer = await agent.request(url(options), form({ csrf }));
    expect(answer.status).toBe(200);
    const creation = JSON.parse(answer.text);
    expect(creation).toMatchObject({ rp: { id: 'localhost', name: 'Tessera' }, user: { name: USER.username }, attestation: 'none' });

    const authenticator = softwareAuthenticator(server.issuer);
    const { credential, response } = authenticator.create(creation);
    expect((await agent.request(url(action), form({ csrf: 'forged', name: 'Phone', credential: JSON.stringify(response) }))).status).toBe(403);
    const added = await agent.request(url(action), form({ csrf, name: 'Phone <b>', credential: JSON.stringify(response) }));
    expect(added.status).toBe(303);
    expect(added.headers.get('location')).toBe('/account?passkey=added#passkeys-heading');
    const { response: listed } = await agent.follow(url('/account?passkey=added'));
    expect(listed.text).toContain('Your passkey is added.');
    expect(listed.text).toContain('<h3>Phone &lt;b&gt;</h3>');
    expect(listed.text).toContain('aria-label="Remove passkey Phone &lt;b&gt;"');

    // the same response again: its challenge is spent
    const replay = await agent.request(url(action), form({ csrf, name: 'Again', credential: JSON.stringify(response) }));
    expect(replay.headers.get('location')).toBe('/account?passkey=not-added#passkeys-heading');
    const { response: refusedPage } = await agent.follow(url('/account?passkey=not-added'));
    expect(refusedPage.text).toContain('No passkey was added');

    // sign in with it, without a password, through the pages (first party: no consent page)
    const signIn = await atSignIn();
    const button = passkeyForm(signIn.page);
    const requestOptions = JSON.parse((await signIn.agent.request(url(button.options), form({ csrf: button.csrf }))).text);
    const assertion = authenticator.get(credential, requestOptions);
    const { stoppedAt } = await signIn.agent.follow(url(button.action), form({ csrf: button.csrf, credential: JSON.stringify(assertion) }), (location) => location.startsWith(REDIRECT_URI));
    const code = new URL(stoppedAt!).searchParams.get('code')!;
    const tokens = await tokenRequest(server.issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: signIn.verifier }, client);
    const idToken = JSON.parse(Buffer.from((tokens.body.id_token as string).split('.')[1], 'base64url').toString('utf8'));
    expect(idToken).toMatchObject({ sub: userId, amr: ['hwk', 'mfa'], acr: 'mfa' });

    // remove: CSRF, then someone's unknown id, then its own
    const removeForm = parseForms(listed.text).find((f) => f.action === '/account/passkeys/remove')!;
    expect(removeForm.fields.passkey).toBe(credential.id);
    expect((await agent.request(url('/account/passkeys/remove'), form({ ...removeForm.fields, csrf: 'forged' }))).status).toBe(403);
    const unknown = await agent.request(url('/account/passkeys/remove'), form({ ...removeForm.fields, passkey: 'not-a-passkey' }));
    expect(unknown.status).toBe(404);
    const removed = await agent.request(url('/account/passkeys/remove'), form(removeForm.fields));
    expect(removed.headers.get('location')).toBe('/account?passkey=removed#passkeys-heading');

    const after = await atSignIn();
    const again = passkeyForm(after.page);
    const nextOptions = JSON.parse((await after.agent.request(url(again.options), form({ csrf: again.csrf }))).text);
    const refused = await after.agent.request(url(again.action), form({ csrf: again.csrf, credential: JSON.stringify(authenticator.get(credential, nextOptions)) }));
    expect(refused.status).toBe(200);
    expect(headingOf(refused.text)).toBe('Sign in');
    expect(refused.text).toContain('That passkey did not sign you in.');
  });
});

describe('an issuer at an IP address: no passkeys anywhere', () => {
  let server: TestServer;
  let client: { clientId: string; clientSecret?: string };
  beforeAll(async () => { ({ server, client } = await setUp('127.0.0.1')); });
  afterAll(async () => { await server?.stop(); });

  test('no passkey button, no script, no section on /account; the passkey routes answer 404', async () => {
    const agent = new BrowserAgent();
    const request = authorizationRequest({ baseUrl: server.issuer, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: 'openid' });
    const { response: login } = await agent.follow(request.url);
    expect(headingOf(login.text)).toBe('Sign in');
    expect(login.text).not.toContain('passkey');
    expect(login.text).not.toContain('<script');
    const uid = /action="\/interaction\/([^/"]+)\/login"/.exec(login.text)![1];
    const csrf = formWithButton(login.text, 'Sign in').fields.csrf;
    expect((await agent.request(new URL(`/interaction/${uid}/passkey/options`, server.issuer).href, form({ csrf }))).status).toBe(404);

    await agent.submit(login, formWithButton(login.text, 'Sign in'), USER, (location) => location.startsWith(REDIRECT_URI));
    const { response: page } = await agent.follow(new URL('/account', server.issuer).href);
    expect(headingOf(page.text)).toBe('Your account');
    expect(page.text).not.toContain('Passkeys');
    const accountCsrf = formWithButton(page.text, 'Sign out of your account').fields.csrf;
    expect((await agent.request(new URL('/account/passkeys/options', server.issuer).href, form({ csrf: accountCsrf }))).status).toBe(404);
  });
});
