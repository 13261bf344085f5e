/*
 * T178 (review of RP-initiated logout after dynamic registration landed): a
 * client that registered itself (dynamic registration, `open` mode: anyone)
 * could name its own post_logout_redirect_uri — say a phishing page — and use
 * /session/end?client_id=…&post_logout_redirect_uri=… as an open redirector
 * on Tessera's name: a browser without a session is sent on without being
 * asked. RP-Initiated Logout 1.0 §3: without an id_token_hint the OP must not
 * redirect unless it has other means of confirming the target; an admin's
 * registration is such a means, a client's own registration is not.
 * Against a real server, with real clients and the pages through a cookie jar.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { BrowserAgent, parseForms, type PageResponse } from '../support/browser-agent.ts';
import { codeFlow, REDIRECT_URI } from '../tokens/token-flows.ts';

const PHISHING = 'https://phishing.attacks.test/signed-out';
const ADMIN_REGISTERED_RETURN = 'https://app.attacks.test/signed-out';
const USER = { username: 'dana', password: 'dana-has-a-long-password' };

describe('post-logout redirection of a client that registered itself', () => {
  let server: TestServer;
  let selfRegistered: { clientId: string; clientSecret: string };
  let adminRegistered: { clientId: string };

  beforeAll(async () => {
    server = await startTestServer({ database: 'memory', config: { dynamicRegistration: { mode: 'open' } } });
    const res = await fetch(`${server.url}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Totally Legit', redirect_uris: [REDIRECT_URI], post_logout_redirect_uris: [PHISHING], scope: 'openid' }),
    });
    expect(res.status).toBe(201);
    const registered = await res.json() as { client_id: string; client_secret: string };
    selfRegistered = { clientId: registered.client_id, clientSecret: registered.client_secret };
    adminRegistered = await server.createClient({ name: 'Notes', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], postLogoutRedirectUris: [ADMIN_REGISTERED_RETURN], scopes: ['openid'] });
    await server.createUser(USER);
  }, 60_000);
  afterAll(async () => { await server?.stop(); });

  const endSession = (params: Record<string, string>) => `${server.url}/session/end?${new URLSearchParams(params)}`;

  /** Presses what the page offers to sign out (the provider's own auto-submitted form when there is no session); the Location it answers. */
  async function signOut(agent: BrowserAgent, page: PageResponse): Promise<string | null> {
    const form = parseForms(page.text).find((f) => f.action.endsWith('/session/end/confirm'));
    expect(form).toBeDefined();
    const answer = await agent.request(new URL(form!.action, page.url).href, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...form!.fields, logout: 'yes' }),
    });
    expect(answer.status).toBe(303);
    return answer.headers.get('location');
  }

  test('without an id_token_hint a browser without a session is not sent to the address the client registered for itself', async () => {
    const agent = new BrowserAgent();
    const page = await agent.request(endSession({ client_id: selfRegistered.clientId, post_logout_redirect_uri: PHISHING, state: 'x' }));
    expect(page.status).toBe(200);
    expect(await signOut(agent, page)).toBe(`${server.url}/session/end/success`);
  });

  test('a signed-in person is told they will stay here, and stays', async () => {
    const { agent } = await codeFlow({ baseUrl: server.url, client: adminRegistered, user: USER, scope: 'openid' });
    const page = await agent.request(endSession({ client_id: selfRegistered.clientId, post_logout_redirect_uri: PHISHING }));
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h1>Sign out of Totally Legit?</h1>');
    expect(page.text).toContain('Totally Legit registered itself and did not show that you signed in to it, so you will stay here after signing out.');
    expect(await signOut(agent, page)).toBe(`${server.url}/session/end/success`);
  });

  test('with the ID token it received (id_token_hint) the client gets the person back, state included', async () => {
    const { agent, id_token: idToken } = await codeFlow({ baseUrl: server.url, client: selfRegistered, user: USER, scope: 'openid' });
    expect(typeof idToken).toBe('string');
    const page = await agent.request(endSession({ id_token_hint: idToken!, post_logout_redirect_uri: PHISHING, state: 'back' }));
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('registered itself');
    expect(await signOut(agent, page)).toBe(`${PHISHING}?state=back`);
  });

  test('a client an admin registered is still returned with client_id alone (its registration is the confirmation)', async () => {
    const agent = new BrowserAgent();
    const page = await agent.request(endSession({ client_id: adminRegistered.clientId, post_logout_redirect_uri: ADMIN_REGISTERED_RETURN, state: 's' }));
    expect(await signOut(agent, page)).toBe(`${ADMIN_REGISTERED_RETURN}?state=s`);
  });
});
