/*
 * JWT introspection and revocation answered in front of the provider (the
 * common case: a client secret, a JWT, nothing unusual) must answer exactly
 * what the provider path answers. The provider path is reached with the same
 * request sent without Content-Length (chunked), which the fast path leaves
 * to the provider, and its use is seen in the provider's own error event
 * (it refuses the JWT before Tessera answers).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { basicAuth, type ClientCredentials } from '../support/oauth.ts';
import { clientCredentials } from './token-flows.ts';

const API = 'https://fast.example.test';
const OPAQUE_API = 'https://fast-opaque.example.test';

interface Answer { status: number; body: string; cacheControl: string | null; wwwAuthenticate: string | null }

describe('JWT introspection and revocation before the provider', () => {
  let server: TestServer;
  let svc: ClientCredentials;
  let postClient: ClientCredentials;
  let other: ClientCredentials;
  let introspector: ClientCredentials;
  let providerRefusals = 0;

  beforeAll(async () => {
    server = await startTestServer({});
    await server.services.resources.create({ identifier: API, scopes: ['read'] });
    await server.services.resources.create({ identifier: OPAQUE_API, scopes: ['read'], tokenFormat: 'opaque' });
    svc = await server.createClient({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
    postClient = await server.createClient({ name: 'post', grantTypes: ['client_credentials'], scopes: ['read'], tokenEndpointAuthMethod: 'client_secret_post' });
    other = await server.createClient({ name: 'other', grantTypes: ['client_credentials'], scopes: ['read'] });
    introspector = await server.createClient({ name: 'rs', grantTypes: ['client_credentials'], introspectFor: [API] });
    server.provider.on('introspection.error', () => { providerRefusals++; });
    server.provider.on('revocation.error', () => { providerRefusals++; });
  });
  afterAll(async () => { await server?.stop(); });

  type Auth = 'basic' | 'post';
  /** POSTs `params` to an endpoint; `chunked` sends the body without Content-Length (the provider's path). */
  /** `authorization` sends that header as it is instead of the caller's Basic credentials */
  async function call(endpoint: 'introspection' | 'revocation', caller: ClientCredentials, params: Record<string, string>, options: { auth?: Auth; chunked?: boolean; raw?: string; authorization?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    const form = new URLSearchParams(params);
    if (options.authorization !== undefined) headers.authorization = options.authorization;
    else if ((options.auth ?? 'basic') === 'basic') headers.authorization = basicAuth(caller);
    else { form.set('client_id', caller.clientId); form.set('client_secret', caller.clientSecret!); }
    const text = options.raw ?? form.toString();
    const body = options.chunked
      ? new ReadableStream({ start(controller) { controller.enqueue(new TextEncoder().encode(text)); controller.close(); } })
      : text;
    const res = await fetch(`${server.url}/token/${endpoint}`, { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
    return { status: res.status, body: await res.text(), cacheControl: res.headers.get('cache-control'), wwwAuthenticate: res.headers.get('www-authenticate') };
  }

  /** The same request both ways; returns the fast answer and how many of the two the provider refused itself. */
  async function bothWays(endpoint: 'introspection' | 'revocation', caller: ClientCredentials, params: Record<string, string>, options: { auth?: Auth; raw?: string; authorization?: string } = {}) {
    const before = providerRefusals;
    const fast = await call(endpoint, caller, params, options);
    const viaProvider = await call(endpoint, caller, params, { ...options, chunked: true });
    return { fast, viaProvider, providerRefusals: providerRefusals - before };
  }

  test('an active JWT: the same answer, and the provider was not involved in the fast one', async () => {
    const token = await clientCredentials(server.url, svc, API, 'read');
    for (const [caller, auth] of [[svc, 'basic'], [introspector, 'basic'], [other, 'basic']] as const) {
      const { fast, viaProvider, providerRefusals: refusals } = await bothWays('introspection', caller, { token }, { auth });
      expect(fast).toEqual(viaProvider);
      expect(fast.status).toBe(200);
      expect(fast.cacheControl).toBe('no-store');
      expect(refusals).toBe(1); // only the chunked request went through the provider
    }
    const asOwner = await call('introspection', svc, { token });
    expect(JSON.parse(asOwner.body)).toMatchObject({ active: true, client_id: svc.clientId, aud: API, token_type: 'Bearer' });
    expect(JSON.parse((await call('introspection', other, { token })).body)).toEqual({ active: false });
  });

  test('client_secret_post, a token_type_hint and a client_id beside Basic are the simple case too', async () => {
    const token = await clientCredentials(server.url, postClient, API, 'read');
    const post = await bothWays('introspection', postClient, { token }, { auth: 'post' });
    expect(post.fast).toEqual(post.viaProvider);
    expect(post.providerRefusals).toBe(1);
    const hinted = await bothWays('introspection', svc, { token: await clientCredentials(server.url, svc, API, 'read'), token_type_hint: 'access_token', client_id: svc.clientId });
    expect(hinted.fast).toEqual(hinted.viaProvider);
    expect(JSON.parse(hinted.fast.body)).toMatchObject({ active: true });
    expect(hinted.providerRefusals).toBe(1);
  });

  test('failures are the provider\'s own answers: bad secret, unknown client, repeated parameter, two mechanisms', async () => {
    const token = await clientCredentials(server.url, svc, API, 'read');
    const badSecret = await bothWays('introspection', { clientId: svc.clientId, clientSecret: 'wrong' }, { token });
    expect(badSecret.fast).toEqual(badSecret.viaProvider);
    expect(badSecret.fast.status).toBe(401);
    expect(badSecret.fast.wwwAuthenticate).toContain('Basic');
    const unknown = await bothWays('introspection', { clientId: 'nobody', clientSecret: 'x' }, { token });
    expect(unknown.fast).toEqual(unknown.viaProvider);
    expect(unknown.fast.status).toBe(401);
    const repeated = await bothWays('introspection', svc, {}, { raw: `token=${token}&token=${token}` });
    expect(repeated.fast).toEqual(repeated.viaProvider);
    expect(repeated.fast.status).toBe(400);
    const both = await bothWays('introspection', svc, {}, { raw: new URLSearchParams({ token, client_secret: svc.clientSecret! }).toString() });
    expect(both.fast).toEqual(both.viaProvider);
    expect(both.fast.status).toBe(400);
  });

  test('Basic headers the provider would refuse or read otherwise get the provider\'s answer, at both endpoints', async () => {
    const { clientId, clientSecret } = svc;
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    /** the first n characters as %XX (2 bytes longer each, decoding to the same text) */
    const percentEncoded = (text: string, n: number) =>
      [...text.slice(0, n)].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('') + text.slice(n);
    /** id:secret, its secret partly percent-encoded so that its length is `bytes` modulo 3: base64 ending in no '=' (0) or one '=' (2) */
    const credentialsOfLength = (bytes: 0 | 2) => [0, 1, 2]
      .map((n) => `${clientId}:${percentEncoded(clientSecret!, n)}`)
      .find((text) => Buffer.byteLength(text) % 3 === bytes)!;
    const whole = b64(credentialsOfLength(0));
    const onePad = b64(credentialsOfLength(2));
    expect(whole).toMatch(/[^=]$/);
    expect(onePad).toMatch(/[^=]=$/);

    // Buffer.from reads these as the right credentials; the provider refuses them as malformed
    const lenient = {
      'a dangling base64 character': `Basic ${whole}A`,
      'padding where none is due': `Basic ${whole}=`,
      'two padding characters where one is due': `Basic ${onePad}=`,
    };
    const malformed = {
      ...lenient,
      'padding inside': `Basic ${whole.slice(0, 4)}=${whole.slice(4)}`,
      'no colon': `Basic ${b64(`${clientId}${clientSecret}`)}`,
      'base64url alphabet': `Basic ${whole.slice(0, -1)}_`,
      'not base64 at all': 'Basic !!!!',
      'bad percent-encoding': `Basic ${b64(`${clientId}:%zz${clientSecret}`)}`,
      'a control character once percent-decoded': `Basic ${b64(`${clientId}:%0A${clientSecret}`)}`,
      'two spaces after the scheme': `Basic  ${whole}`,
      'a tab instead of the space': `Basic\t${whole}`,
      'a third part': `Basic ${whole} extra`,
      'only the scheme': 'Basic',
      'an empty client id': `Basic ${b64(`:${clientSecret}`)}`,
      'an empty secret': `Basic ${b64(`${clientId}:`)}`,
      'another scheme': `Bearer ${whole}`,
    };
    const readable = {
      'the scheme in lower case': `basic ${whole}`,
      'the scheme in upper case': `BASIC ${onePad}`,
      'base64 without its padding': `Basic ${onePad.slice(0, -1)}`,
      "'+' for a space (so the wrong secret)": `Basic ${b64(`${clientId}:+${clientSecret}`)}`,
    };

    const token = await clientCredentials(server.url, svc, API, 'read');
    for (const [name, authorization] of Object.entries({ ...malformed, ...readable })) {
      for (const endpoint of ['introspection', 'revocation'] as const) {
        const { fast, viaProvider, providerRefusals: refusals } = await bothWays(endpoint, svc, { token }, { authorization });
        expect({ name, endpoint, ...fast }).toEqual({ name, endpoint, ...viaProvider });
        if (name in malformed) expect({ name, status: fast.status, body: JSON.parse(fast.body) }).toMatchObject({ name, status: 400, body: { error: 'invalid_request' } });
        // the right credentials, however written, are still answered before the provider
        if (name in readable && fast.status === 200) expect({ name, endpoint, refusals }).toEqual({ name, endpoint, refusals: 1 });
      }
    }
  });

  test('revocation: own token revoked (inactive at once), another client\'s refused as the provider refuses it', async () => {
    const token = await clientCredentials(server.url, svc, API, 'read');
    const foreign = await bothWays('revocation', other, { token });
    expect(foreign.fast).toEqual(foreign.viaProvider);
    expect(foreign.fast.status).toBe(400);
    expect(JSON.parse((await call('introspection', svc, { token })).body)).toMatchObject({ active: true });

    const before = providerRefusals;
    const revoked = await call('revocation', svc, { token });
    expect(revoked).toMatchObject({ status: 200, body: '' });
    expect(providerRefusals).toBe(before);
    expect(JSON.parse((await call('introspection', svc, { token })).body)).toEqual({ active: false });
    expect(JSON.parse((await call('introspection', introspector, { token }, { chunked: true })).body)).toEqual({ active: false });
  });

  test('a form in another charset is left to the provider (it decodes the body itself)', async () => {
    const token = await clientCredentials(server.url, svc, API, 'read');
    const before = providerRefusals;
    const res = await fetch(`${server.url}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1', authorization: basicAuth(svc) },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ active: true, client_id: svc.clientId });
    expect(providerRefusals).toBe(before + 1);
  });

  test('opaque tokens still reach the provider, body intact', async () => {
    const token = await clientCredentials(server.url, svc, OPAQUE_API, 'read');
    const answer = await call('introspection', svc, { token });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ active: true, client_id: svc.clientId });
    expect(await call('revocation', svc, { token })).toMatchObject({ status: 200 });
    expect(JSON.parse((await call('introspection', svc, { token })).body)).toEqual({ active: false });
  });
});
