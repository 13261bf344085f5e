// OAuth requests that prepare benchmark inputs (tokens to introspect, refresh tokens to
// rotate) and the scripted authorization code round trip: the test suite's client
// (test/support/oauth.ts, browser-agent.ts), so the bench and the tests drive the server
// the same way. Nothing here runs inside an autocannon window; the round trip is what the
// `authcode` operation measures as a whole.
import { BrowserAgent, CookieJar } from '../../test/support/browser-agent.ts';
import * as testClient from '../../test/support/oauth.ts';

export { basicAuth } from '../../test/support/oauth.ts';
export { CookieJar };

/** The parameters that have a value (undefined and null ones are left out). */
const defined = (params) => Object.fromEntries(Object.entries(params)
  .filter(([, v]) => v !== undefined && v !== null)
  .map(([k, v]) => [k, String(v)]));

/** A form body as autocannon sends it (a string); parameters without a value are left out. */
export function form(params) {
  return new URLSearchParams(defined(params)).toString();
}

/** POST to the instance's /token as its client; the parsed 200 answer, or throws with the answer. */
export async function tokenRequest(instance, params) {
  const res = await testClient.tokenRequest(instance.url, defined(params), instance);
  if (res.status !== 200) throw new Error(`token endpoint ${res.status}: ${res.text.slice(0, 300)}`);
  return res.body;
}

export async function clientCredentialsToken(instance, { resource, scope }) {
  const { access_token: token } = await tokenRequest(instance, {
    grant_type: 'client_credentials',
    resource,
    scope,
  });
  return token;
}

/**
 * Authorization code + PKCE through the server's pages (as the tests do: sign in as `user`
 * on a login page, press Allow on a consent page; the baseline shows neither), then the code
 * exchange. `jar`: the browser session to use; the same jar again reuses a login (single
 * sign-on); flows running at the same time must each have their own (CookieJar.clone()).
 * Returns the token endpoint's answer to the code exchange.
 */
export async function authorizationCodeFlow(instance, {
  redirectUri, scope, resource, prompt, user, jar = new CookieJar(),
}) {
  const { callback, code, state, verifier } = await testClient.authorize({
    baseUrl: instance.url,
    clientId: instance.clientId,
    redirectUri,
    scope,
    params: defined({ resource, prompt }),
    user,
    agent: new BrowserAgent(jar),
  });
  const error = callback.searchParams.get('error');
  if (error) throw new Error(`authorization error: ${error} ${callback.searchParams.get('error_description') ?? ''}`);
  if (callback.searchParams.get('state') !== state) throw new Error('state mismatch');
  return tokenRequest(instance, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    resource,
  });
}
