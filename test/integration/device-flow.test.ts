// Issue 14, the device authorization grant (RFC 8628), against a real server
// through its pages and endpoints, on SQL token state and on Redis: codes are
// single use (under concurrency too), a wrong code is refused with one
// message, a polling device that is too fast gets slow_down, user-code
// submissions are rate limited per address, the scope rule and resource
// indicators apply as in the code flow, decisions are audited. The real
// browser and an unmodified client library: test/e2e/device-flow.test.ts.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { decodeJwt } from 'jose';
import { startTestServer, type TestServer, type TestServerOptions } from '../support/server.ts';
import { BrowserAgent, decodeEntities, formWithButton, headingOf, parseForms, type PageResponse } from '../support/browser-agent.ts';
import { postAsClient, tokenRequest, type ClientCredentials } from '../support/oauth.ts';
import { adminToken } from '../admin/admin-api.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';
import { Secret, TOTP } from 'otpauth';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const API = 'https://tv-api.example.test';
const PASSWORD = 'a-long-enough-password-for-tv';

interface DeviceAuthorization {
  device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string; expires_in: number; interval: number;
}

async function startDeviceAuthorization(server: TestServer, client: ClientCredentials, params: Record<string, string | string[]> = {}) {
  const answer = await postAsClient(`${server.url}/device/auth`, { scope: 'openid', ...params }, client);
  return { status: answer.status, headers: answer.headers, body: JSON.parse(answer.text) as DeviceAuthorization & { error?: string; error_description?: string } };
}

const poll = (server: TestServer, client: ClientCredentials, deviceCode: string) =>
  tokenRequest(server.url, { grant_type: DEVICE_GRANT, device_code: deviceCode }, client);

/** A poll after waiting out the interval since the last one, as a well-behaved device does (faster is slow_down). */
async function pollAtPace(server: TestServer, client: ClientCredentials, deviceCode: string) {
  await new Promise((resolve) => setTimeout(resolve, server.config.deviceFlow.pollIntervalSeconds * 1000 + 100));
  return poll(server, client, deviceCode);
}

/** Types `userCode` on /device; returns the page the person sees next. */
async function enterCode(agent: BrowserAgent, server: TestServer, userCode: string): Promise<PageResponse> {
  const entry = await agent.request(`${server.url}/device`);
  expect(entry.status).toBe(200);
  const { response } = await agent.submit(entry, formWithButton(entry.text, 'Continue'), { user_code: userCode });
  return response;
}

/** Confirms on the confirmation page, signs in and presses `consent` when asked; returns the last page. */
async function approve(agent: BrowserAgent, confirmation: PageResponse, user: { username: string; password: string }, consent: 'Allow' | 'Deny' = 'Allow') {
  let step = await agent.submit(confirmation, formWithButton(confirmation.text, 'Continue'));
  const pages: string[] = [];
  for (let i = 0; i < 4; i += 1) {
    const page = step.response;
    const heading = headingOf(page.text) ?? '';
    pages.push(heading);
    if (heading === 'Sign in') step = await agent.submit(page, formWithButton(page.text, 'Sign in'), user);
    else if (heading === 'Allow access?') step = await agent.submit(page, formWithButton(page.text, consent));
    else return { page, pages };
  }
  throw new Error(`the flow did not end: ${pages.join(' → ')}`);
}

function suite(name: string, options: TestServerOptions) {
  // a short interval: the test that polls again at the pace asked for waits it out once
  // open registration for the device grant: a client that registered itself is marked on the pages (T149)
  options = { ...options, config: { deviceFlow: { pollIntervalSeconds: 1 }, dynamicRegistration: { mode: 'open', grantTypes: [DEVICE_GRANT] } } };
  describe(name, () => {
    let server: TestServer;
    let tv: ClientCredentials;
    let publicTv: ClientCredentials;
    let firstPartyTv: ClientCredentials;
    let webApp: ClientCredentials;
    const user = { username: 'tamsin', password: PASSWORD };
    let userId: string;

    beforeAll(async () => {
      server = await startTestServer(options);
      userId = (await server.createUser(user)).id;
      await server.services.resources.create({ identifier: API, name: 'TV Guide API', scopes: ['guide:read', 'guide:write'] });
      tv = await server.createClient({ name: 'Living Room TV', grantTypes: [DEVICE_GRANT, 'refresh_token'], scopes: ['openid', 'profile', 'offline_access', 'guide:read'] });
      publicTv = await server.createClient({ name: 'Kitchen Radio', grantTypes: [DEVICE_GRANT], scopes: ['openid'], public: true });
      firstPartyTv = await server.createClient({ name: 'Our Own Box', grantTypes: [DEVICE_GRANT], scopes: ['openid', 'guide:read'], firstParty: true });
      webApp = await server.createClient({ name: 'Web App', grantTypes: ['authorization_code'], redirectUris: ['https://web.example.test/cb'], scopes: ['openid'] });
    });
    afterAll(async () => { await server?.stop(); });

    test('discovery advertises the device authorization endpoint and the grant type', async () => {
      const discovery = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
      expect(discovery.device_authorization_endpoint).toBe(`${server.issuer}/device/auth`);
      expect(discovery.grant_types_supported).toContain(DEVICE_GRANT);
      const oauth = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
      expect(oauth.device_authorization_endpoint).toBe(`${server.issuer}/device/auth`);
    });

    test('the device authorization answer: a user code of 8 letters from a 20-letter alphabet, the verification URIs, the interval', async () => {
      const started = await startDeviceAuthorization(server, tv);
      expect(started.status).toBe(200);
      expect(started.headers.get('cache-control')).toBe('no-store');
      expect(started.body.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
      expect(started.body.verification_uri).toBe(`${server.issuer}/device`);
      expect(started.body.verification_uri_complete).toBe(`${server.issuer}/device?user_code=${started.body.user_code}`);
      expect(started.body.interval).toBe(server.config.deviceFlow.pollIntervalSeconds);
      expect(started.body.expires_in).toBeGreaterThan(0);
      expect(started.body.device_code.length).toBeGreaterThanOrEqual(32);
    });

    test('absent grants nothing: a client not registered for the grant, an unknown client, a wrong secret are refused', async () => {
      const notRegistered = await startDeviceAuthorization(server, webApp);
      expect([notRegistered.status, notRegistered.body.error]).toEqual([400, 'unauthorized_client']);
      const unknown = await startDeviceAuthorization(server, { clientId: 'no-such-client' });
      expect([unknown.status, unknown.body.error]).toEqual([401, 'invalid_client']);
      const wrongSecret = await startDeviceAuthorization(server, { clientId: tv.clientId, clientSecret: 'not-the-secret' });
      expect([wrongSecret.status, wrongSecret.body.error]).toEqual([401, 'invalid_client']);
      // a client registered for the grant gets no scope outside its allow-list
      const overAsking = await startDeviceAuthorization(server, publicTv, { scope: 'openid email' });
      expect([overAsking.status, overAsking.body.error]).toEqual([400, 'invalid_scope']);
      const otherAudience = await startDeviceAuthorization(server, publicTv, { resource: API });
      expect([otherAudience.status, otherAudience.body.error]).toEqual([400, 'invalid_target']);
    });

    test('end to end: the code typed in small letters without its dash, the confirmation page, sign-in, consent; the device gets tokens once', async () => {
      const started = await startDeviceAuthorization(server, tv, { scope: 'openid profile offline_access guide:read', resource: API });
      expect(started.status).toBe(200);
      const pending = await poll(server, tv, started.body.device_code);
      expect([pending.status, pending.body.error]).toEqual([400, 'authorization_pending']);

      const agent = new BrowserAgent();
      const confirmation = await enterCode(agent, server, started.body.user_code.replace('-', '').toLowerCase());
      expect(headingOf(confirmation.text)).toBe('Connect this device?');
      // who asks and for what, before anything is signed in: the person can see a forwarded code for what it is
      expect(confirmation.text).toContain('Living Room TV');
      expect(confirmation.text).toContain(started.body.user_code);
      expect(confirmation.text).toContain('guide:read');
      expect(confirmation.text).toContain('TV Guide API');
      expect(confirmation.text).toContain('offline_access');
      expect(parseForms(confirmation.text).flatMap((f) => f.buttons)).toEqual(['Continue', 'Deny']);
      // an administrator registered this client: no unchecked-name notice
      expect(confirmation.text).not.toContain('registered itself');

      const { page, pages } = await approve(agent, confirmation, user);
      expect(pages).toEqual(['Sign in', 'Allow access?', 'Your device is connected']);
      expect(page.text).toContain('You can close this window');

      const tokens = await pollAtPace(server, tv, started.body.device_code);
      expect(tokens.status).toBe(200);
      expect(tokens.body.refresh_token).toEqual(expect.any(String));
      expect(decodeJwt(tokens.body.id_token!).sub).toBe(userId);
      // the resource indicator at the device authorization request is the token's audience, with its scope only
      const access = decodeJwt(tokens.body.access_token!);
      expect(access.aud).toBe(API);
      expect(access.scope).toBe('guide:read');
      expect(access.sub).toBe(userId);

      // used once: the same device code again, polled at the pace asked for, is refused; so is the user code at /device
      const again = await pollAtPace(server, tv, started.body.device_code);
      expect([again.status, again.body.error]).toEqual([400, 'invalid_grant']);
      const reused = await enterCode(new BrowserAgent(), server, started.body.user_code);
      expect(headingOf(reused.text)).toBe('Connect a device');
      expect(reused.text).toContain('That code is not valid');

      await server.services.audit.flush();
      const approved = await server.db.knex('audit_events').where({ type: 'device.approved', client_id: tv.clientId });
      expect(approved).toHaveLength(1);
      expect(approved[0]).toMatchObject({ subject: userId });
      expect(JSON.stringify(approved)).not.toContain(started.body.user_code);
      expect(JSON.stringify(approved)).not.toContain(started.body.device_code);
    });

    test('a client that registered itself (RFC 7591) is marked on the confirmation and the consent page: its name is unchecked (T149)', async () => {
      const registered = await fetch(`${server.url}/reg`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'Living Room TV', grant_types: [DEVICE_GRANT], token_endpoint_auth_method: 'none', scope: 'openid' }),
      });
      expect(registered.status).toBe(201);
      const lookalike = { clientId: ((await registered.json()) as { client_id: string }).client_id };
      const started = await startDeviceAuthorization(server, lookalike);
      expect(started.status).toBe(200);
      const agent = new BrowserAgent();
      const confirmation = await enterCode(agent, server, started.body.user_code);
      expect(headingOf(confirmation.text)).toBe('Connect this device?');
      expect(confirmation.text).toContain('Living Room TV');
      expect(confirmation.text).toContain('This application registered itself with this server');
      let { response: page } = await agent.submit(confirmation, formWithButton(confirmation.text, 'Continue'));
      expect(headingOf(page.text)).toBe('Sign in');
      ({ response: page } = await agent.submit(page, formWithButton(page.text, 'Sign in'), user));
      expect(headingOf(page.text)).toBe('Allow access?');
      expect(page.text).toContain('This application registered itself with this server');
      // a device flow has no redirect: nothing is said about where the person goes
      expect(page.text).not.toContain('you go to');
    });

    test('a device code redeemed by several requests at once yields tokens once', async () => {
      const started = await startDeviceAuthorization(server, firstPartyTv, { scope: 'openid' });
      const agent = new BrowserAgent();
      const { pages } = await approve(agent, await enterCode(agent, server, started.body.user_code), user);
      // a first-party client: no consent page
      expect(pages).toEqual(['Sign in', 'Your device is connected']);
      const answers = await Promise.all(Array.from({ length: 8 }, () => poll(server, firstPartyTv, started.body.device_code)));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      for (const refused of answers.filter((a) => a.status !== 200)) expect(['invalid_grant', 'slow_down']).toContain(refused.body.error);
      // and the code is spent in the token state (its atomic consume: test/tokens/adapter-contract.ts)
      const stored = await server.provider.DeviceCode.find(started.body.device_code, { ignoreExpiration: true });
      expect(stored?.consumed).toBeTruthy();
    });

    test('a wrong code gets one message, no hint whether a similar code exists; the confirmation page does not come', async () => {
      const started = await startDeviceAuthorization(server, tv);
      const code = started.body.user_code;
      // the right code with its last letter changed, and a code nobody issued
      const near = code.slice(0, -1) + (code.endsWith('B') ? 'C' : 'B');
      const nearPage = await enterCode(new BrowserAgent(), server, near);
      const farPage = await enterCode(new BrowserAgent(), server, 'ZZZZ-ZZZZ');
      for (const page of [nearPage, farPage]) {
        expect(headingOf(page.text)).toBe('Connect a device');
        expect(page.text).toContain('That code is not valid');
        expect(page.text).not.toContain('Living Room TV');
      }
      const strip = (text: string) => text.replace(/value="[^"]*"/g, '').replace(/<code>[^<]*<\/code>/g, '');
      expect(strip(nearPage.text)).toBe(strip(farPage.text));
      // an empty submission and one without the page's form token
      const empty = await enterCode(new BrowserAgent(), server, '');
      expect(empty.text).toContain('That code is not valid');
      // (without the session the form belongs to: back to an empty code entry, nothing looked up)
      const forged = await new BrowserAgent().request(`${server.url}/device`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `user_code=${code}` });
      expect([forged.status, forged.headers.get('location')]).toEqual([303, `${server.issuer}/device`]);
      const resumeWithoutSession = await new BrowserAgent().request(`${server.url}/device/no-such-interaction`);
      expect([resumeWithoutSession.status, resumeWithoutSession.headers.get('location')]).toEqual([303, `${server.issuer}/device`]);
      const wrongToken = new BrowserAgent();
      const entry = await wrongToken.request(`${server.url}/device`);
      const { response: refused } = await wrongToken.submit(entry, formWithButton(entry.text, 'Continue'), { user_code: code, xsrf: 'forged' });
      expect(refused.status).toBeLessThan(500);
      expect(refused.text).not.toContain('Living Room TV');
      expect(refused.text).toContain('could not be completed');
    });

    test('Deny on the confirmation page: the device gets access_denied, the code is spent, the denial is audited', async () => {
      const started = await startDeviceAuthorization(server, publicTv);
      const agent = new BrowserAgent();
      const confirmation = await enterCode(agent, server, started.body.user_code);
      expect(confirmation.text).toContain('Kitchen Radio');
      const { response } = await agent.submit(confirmation, formWithButton(confirmation.text, 'Deny'));
      expect(response.text).toContain('You denied the request');
      const answer = await poll(server, publicTv, started.body.device_code);
      expect([answer.status, answer.body.error]).toEqual([400, 'access_denied']);
      const again = await enterCode(new BrowserAgent(), server, started.body.user_code);
      expect(again.text).toContain('That code is not valid');
      await server.services.audit.flush();
      expect(await server.db.knex('audit_events').where({ type: 'device.denied', client_id: publicTv.clientId })).toHaveLength(1);
    });

    test('Deny at consent: the device gets access_denied', async () => {
      const started = await startDeviceAuthorization(server, tv, { scope: 'openid profile' });
      const agent = new BrowserAgent();
      const { page, pages } = await approve(agent, await enterCode(agent, server, started.body.user_code), user, 'Deny');
      expect(pages).toEqual(['Sign in', 'Allow access?', 'Connect a device']);
      expect(page.text).toContain('You denied the request');
      const answer = await pollAtPace(server, tv, started.body.device_code);
      expect(answer.body.error).toBe('access_denied');
    });

    test('slow_down: a device polling again within the interval is told to slow down (RFC 8628 §3.5), for an unknown code too', async () => {
      const started = await startDeviceAuthorization(server, publicTv);
      const first = await poll(server, publicTv, started.body.device_code);
      expect(first.body.error).toBe('authorization_pending');
      const second = await poll(server, publicTv, started.body.device_code);
      expect([second.status, second.body.error]).toEqual([400, 'slow_down']);
      expect(second.headers.get('cache-control')).toBe('no-store');
      // every code has its own pace: another device is not slowed by this one
      const other = await startDeviceAuthorization(server, publicTv);
      expect((await poll(server, publicTv, other.body.device_code)).body.error).toBe('authorization_pending');
      const unknown = await poll(server, publicTv, 'x'.repeat(43));
      expect(unknown.body.error).toBe('invalid_grant');
      expect((await poll(server, publicTv, 'x'.repeat(43))).body.error).toBe('slow_down');
    });

    test('slow_down holds however the form spells its names: percent-encoded names and values are the same parameters to the provider (T147)', async () => {
      const started = await startDeviceAuthorization(server, publicTv);
      const deviceCode = started.body.device_code;
      expect((await poll(server, publicTv, deviceCode)).body.error).toBe('authorization_pending');
      // the provider decodes the form (node:querystring) before it reads it: these are the same poll, of the same code
      const encodeAll = (text: string) => [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
      const spellings = [
        `grant_type=${encodeURIComponent(DEVICE_GRANT).replace('_', '%5F')}&device%5Fcode=${deviceCode}&client_id=${publicTv.clientId}`,
        `${encodeAll('grant_type')}=${encodeAll(DEVICE_GRANT)}&${encodeAll('device_code')}=${encodeAll(deviceCode)}&client_id=${publicTv.clientId}`,
      ];
      for (const body of spellings) {
        const answer = await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
        expect([answer.status, ((await answer.json()) as { error?: string }).error]).toEqual([400, 'slow_down']);
      }
    });

    test('the grant is registrable through the admin API, for public clients too; an unknown grant type is not', async () => {
      const token = await adminToken(server);
      const create = (body: Record<string, unknown>) => fetch(`${server.url}/admin/v1/clients`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      const created = await create({ name: 'Admin-made TV', grant_types: [DEVICE_GRANT], scopes: ['openid'], public: true });
      expect(created.status).toBe(201);
      const client = await created.json() as { client_id: string };
      expect((await startDeviceAuthorization(server, { clientId: client.client_id })).status).toBe(200);
      const unknown = await create({ name: 'Nope', grant_types: ['urn:ietf:params:oauth:grant-type:device-code'] });
      expect(unknown.status).toBe(400);
    });

    test('second factor: a client that requires one takes a person without one through setting it up; the ID token says mfa', async () => {
      const strictTv = await server.createClient({ name: 'Bank TV', grantTypes: [DEVICE_GRANT], scopes: ['openid'], requireMfa: true, firstParty: true });
      const person = { username: 'mfa-watcher', password: 'mfa-watcher-password-1' };
      await server.createUser(person);
      const started = await startDeviceAuthorization(server, strictTv);
      const agent = new BrowserAgent();
      const confirmation = await enterCode(agent, server, started.body.user_code);
      let { response: page } = await agent.submit(confirmation, formWithButton(confirmation.text, 'Continue'));
      expect(headingOf(page.text)).toBe('Sign in');
      ({ response: page } = await agent.submit(page, formWithButton(page.text, 'Sign in'), person));
      expect(headingOf(page.text)).toBe('Set up two-step verification');
      const secret = decodeEntities(/id="totp-secret"[^>]*>([^<]+)</.exec(page.text)![1]).replace(/\s+/g, '');
      const code = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate();
      ({ response: page } = await agent.submit(page, formWithButton(page.text, 'Turn on'), { code }));
      expect(headingOf(page.text)).toBe('Save your recovery codes');
      ({ response: page } = await agent.submit(page, formWithButton(page.text, 'Continue')));
      expect(headingOf(page.text)).toBe('Your device is connected');
      const tokens = await pollAtPace(server, strictTv, started.body.device_code);
      expect(tokens.status).toBe(200);
      const idToken = decodeJwt(tokens.body.id_token!);
      expect(idToken.acr).toBe('mfa');
      expect(idToken.amr).toEqual(['pwd', 'otp', 'mfa']);
    });

    test('`tessera clients create --grant-types urn:ietf:params:oauth:grant-type:device_code`: the client starts the flow', async () => {
      const run = await runTesseraCli(['clients', 'create', '--name', 'Garage Display', '--grant-types', DEVICE_GRANT, '--scopes', 'openid', '--json'], adminCliEnv(server));
      expect(run.code).toBe(0);
      expect(run.json).toMatchObject({ name: 'Garage Display', grant_types: [DEVICE_GRANT], client_secret: expect.any(String) });
      const started = await startDeviceAuthorization(server, { clientId: run.json.client_id, clientSecret: run.json.client_secret });
      expect(started.status).toBe(200);
    });

    test('CORS at the device authorization endpoint: only the client\'s registered web origins', async () => {
      const spa = await server.createClient({ name: 'Browser TV', grantTypes: [DEVICE_GRANT], scopes: ['openid'], public: true, webOrigins: ['https://tv.example.test'] });
      const from = async (origin: string) => postAsClient(`${server.url}/device/auth`, { scope: 'openid' }, spa, { headers: { origin } });
      const allowed = await from('https://tv.example.test');
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://tv.example.test');
      const other = await from('https://evil.example.test');
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      // a confidential client with no web_origins: none
      const confidential = await postAsClient(`${server.url}/device/auth`, { scope: 'openid' }, tv, { headers: { origin: 'https://tv.example.test' } });
      expect(confidential.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
}

suite('device authorization grant (embedded PGlite token state)', { database: 'memory' });
suite('device authorization grant (Postgres + Redis token state)', { database: 'postgres', redis: true });

function guessingSuite(name: string, options: TestServerOptions) {
  describe(name, () => {
    let server: TestServer;
    let tv: ClientCredentials;
    const LIMIT = 4;

    beforeAll(async () => {
      server = await startTestServer({ ...options, config: { rateLimits: { deviceCodePerIp: { limit: LIMIT, windowSeconds: 86400 } } } });
      tv = await server.createClient({ name: 'Hall TV', grantTypes: [DEVICE_GRANT], scopes: ['openid'], public: true });
    });
    afterAll(async () => { await server?.stop(); });

    test(`after ${LIMIT} submissions from one address, /device answers 429 — the right code included; the entry page and other pages still load`, async () => {
      const started = await startDeviceAuthorization(server, tv);
      const agent = new BrowserAgent();
      for (let i = 0; i < LIMIT; i += 1) {
        const page = await enterCode(agent, server, `BBBB-BBB${'CDFG'[i]}`);
        expect(page.status).toBe(200);
        expect(page.text).toContain('That code is not valid');
      }
      const entry = await agent.request(`${server.url}/device`);
      expect(entry.status).toBe(200);
      const limited = await agent.submit(entry, formWithButton(entry.text, 'Continue'), { user_code: started.body.user_code });
      expect(limited.response.status).toBe(429);
      expect(limited.response.headers.get('retry-after')).toEqual(expect.any(String));
      expect(limited.response.text).toContain('Too many codes were entered');
      expect(limited.response.text).not.toContain('Hall TV');
    });
  });
}

// the counters live in the token state: memory with embedded PGlite, a Redis script with Redis
guessingSuite('guessing user codes (embedded PGlite)', { database: 'memory' });
guessingSuite('guessing user codes (Postgres + Redis)', { database: 'postgres', redis: true });
