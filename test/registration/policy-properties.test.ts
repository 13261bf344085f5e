// Property tests (fast-check) of what a client that registers itself may be:
// over random metadata — valid fields, hostile ones, wrong types, Tessera's
// own privileged fields — the policy never throws, and whatever it accepts
// is an ordinary third-party client within the policy. The same bodies sent
// to a running server (open registration) never get a 5xx, and every stored
// client obeys the same rules.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import fc from 'fast-check';
import { clientOfRegistrationRequest } from '../../src/registration/index.ts';
import { OIDC_SCOPES, type NewClient, type Offer } from '../../src/clients/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const POLICY = { grantTypes: ['authorization_code', 'refresh_token'] };
const OFFER: Offer = {
  resourceScopes: new Set(['notes:read', 'ledger:read']),
  resources: new Set(['https://notes.example.test', 'https://ledger.example.test']),
  dynamicClientResources: new Set(['https://notes.example.test']),
  dynamicClientScopes: new Set(['notes:read']),
};

const redirectUri = fc.oneof(
  fc.constantFrom('https://app.example.test/cb', 'http://app.example.test/cb', 'http://127.0.0.1:5000/cb', 'http://[::1]/cb', 'https://127.0.0.1/cb',
    'com.example.app:/cb', 'myapp:/cb', 'javascript:alert(1)', 'data:text/html,x', 'https://app.example.test/cb#frag', 'https://user:pw@app.example.test/', '/relative', ''),
  fc.webUrl({ withFragments: true, withQueryParameters: true }),
  fc.string({ maxLength: 40 }),
);
const scopeToken = fc.constantFrom(...OIDC_SCOPES, 'admin', 'notes:read', 'notes:write', 'ledger:read', 'everything', 'ADMIN', 'openid admin');
const grantType = fc.constantFrom('authorization_code', 'refresh_token', 'client_credentials', 'password', 'implicit',
  'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:token-exchange', 'urn:ietf:params:oauth:grant-type:jwt-bearer');
const anyJson = fc.jsonValue({ maxDepth: 3 });

/** A value from `valid` most of the time, from `other` sometimes. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<U>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: other });
const absentOr = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
const rarely = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
const allowedScope = fc.constantFrom(...OIDC_SCOPES, 'notes:read');

/** Fields only an admin sets, and fields a client may not choose: at most one per request, in a third of them. */
const hostile = fc.oneof(
  { weight: 6, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.record({ first_party: fc.oneof(fc.boolean(), anyJson) }) },
  { weight: 1, arbitrary: fc.record({ require_mfa: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ introspect_for: ['https://ledger.example.test'] }) },
  { weight: 1, arbitrary: fc.constant({ allowed_scopes: ['admin'] }) },
  { weight: 1, arbitrary: fc.constant({ token_exchange_audiences: ['https://ledger.example.test'] }) },
  { weight: 1, arbitrary: fc.constant({ web_origins: ['*'] }) },
  { weight: 1, arbitrary: fc.record({ software_statement: fc.string({ maxLength: 20 }) }) },
  { weight: 1, arbitrary: fc.record({ client_secret: fc.string({ maxLength: 20 }) }) },
);

/** Metadata as clients (and attackers) send it: right types mostly, wrong ones sometimes, privileged fields now and then. */
const metadata = fc.tuple(fc.record({
  client_name: absentOr(mostly(fc.string({ maxLength: 60 }), anyJson)),
  redirect_uris: mostly(fc.constant(['https://app.example.test/cb']), fc.oneof(fc.array(redirectUri, { maxLength: 4 }), anyJson)),
  post_logout_redirect_uris: rarely(fc.array(redirectUri, { maxLength: 2 })),
  grant_types: absentOr(mostly(fc.constantFrom(['authorization_code'], ['authorization_code', 'refresh_token']), fc.oneof(fc.uniqueArray(grantType, { maxLength: 4 }), anyJson))),
  response_types: rarely(fc.oneof(fc.constant(['code']), fc.constant([]), fc.constant(['code id_token']), fc.constant(['token']), anyJson)),
  token_endpoint_auth_method: absentOr(mostly(fc.constantFrom('client_secret_basic', 'client_secret_post', 'none'), fc.constantFrom('private_key_jwt', 'tls_client_auth', 'client_secret_jwt'))),
  application_type: absentOr(mostly(fc.constantFrom('web', 'native'), fc.constant('service'))),
  scope: absentOr(mostly(fc.array(allowedScope, { maxLength: 4 }).map((list) => list.join(' ')), fc.oneof(fc.array(scopeToken, { minLength: 1, maxLength: 4 }).map((list) => list.join(' ')), anyJson))),
  logo_uri: absentOr(fc.webUrl()),
}), hostile).map(([base, extra]) => Object.fromEntries(Object.entries({ ...base, ...extra }).filter(([, value]) => value !== undefined)));

/** What every accepted self-registration must be. */
function expectOrdinary(client: NewClient, applicationType: unknown) {
  expect(client.firstParty).toBe(false);
  expect(client.requireMfa).toBeUndefined();
  expect(client.introspectFor).toEqual([]);
  expect(client.webOrigins).toBeUndefined();
  for (const scope of client.scopes ?? []) expect(OIDC_SCOPES.includes(scope) || OFFER.dynamicClientScopes.has(scope)).toBe(true);
  for (const grant of client.grantTypes) expect(POLICY.grantTypes).toContain(grant);
  expect(['client_secret_basic', 'client_secret_post', 'none']).toContain(client.tokenEndpointAuthMethod);
  for (const uri of [...(client.redirectUris ?? []), ...(client.postLogoutRedirectUris ?? [])]) {
    const parsed = new URL(uri);
    expect(uri).not.toContain('#');
    if (applicationType !== 'native') expect(parsed.protocol).toBe('https:');
    expect(['javascript:', 'data:', 'file:', 'vbscript:']).not.toContain(parsed.protocol);
  }
}

describe('the dynamic registration policy, over random metadata', () => {
  test('never throws; refuses with an RFC 7591 error code; accepts only ordinary third-party clients within the policy', () => {
    let accepted = 0;
    fc.assert(fc.property(metadata, (body) => {
      const judged = clientOfRegistrationRequest(body, POLICY, OFFER);
      if ('refusal' in judged) {
        expect(['invalid_client_metadata', 'invalid_redirect_uri', 'invalid_software_statement']).toContain(judged.refusal.error);
        expect(judged.refusal.description.length).toBeGreaterThan(0);
        return;
      }
      // anything privileged in the request means a refusal, never a quiet drop
      for (const field of ['first_party', 'require_mfa', 'introspect_for', 'allowed_scopes', 'token_exchange_audiences', 'web_origins', 'software_statement', 'client_secret']) {
        expect((body as Record<string, unknown>)[field]).toBeUndefined();
      }
      expectOrdinary(judged.client, (body as Record<string, unknown>).application_type);
      accepted += 1;
    }), { numRuns: 2000 });
    // the property says something only if some registrations pass
    expect(accepted).toBeGreaterThan(100);
  });

  test('a body that is not an object is refused', () => {
    fc.assert(fc.property(fc.oneof(fc.constant(null), fc.array(anyJson), fc.string(), fc.integer(), fc.boolean()), (body) => {
      const judged = clientOfRegistrationRequest(body, POLICY, OFFER);
      expect('refusal' in judged && judged.refusal.error).toBe('invalid_client_metadata');
    }));
  });
});

describe('random registrations against a running server (open registration)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { dynamicRegistration: { mode: 'open', maxClients: 100_000 } } });
    await server.services.resources.create({ identifier: 'https://notes.example.test', scopes: ['notes:read'], dynamicClients: true });
    await server.services.resources.create({ identifier: 'https://ledger.example.test', scopes: ['ledger:read'] });
  });
  afterAll(async () => { await server?.stop(); });

  test('never a 5xx; 201 or an RFC 7591 error; every stored client is ordinary', async () => {
    let accepted = 0;
    await fc.assert(fc.asyncProperty(metadata, async (body) => {
      const res = await fetch(`${server.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const answer = await res.json() as Record<string, unknown>;
      expect(res.status === 201 || res.status === 400).toBe(true);
      if (res.status === 400) {
        expect(['invalid_client_metadata', 'invalid_redirect_uri', 'invalid_software_statement']).toContain(answer.error);
        return;
      }
      const stored = await server.services.clients.find(answer.client_id as string);
      expect(stored).toMatchObject({ firstParty: false, dynamicallyRegistered: true, introspectFor: [] });
      expect(stored!.metadata.require_mfa).toBeUndefined();
      const allowList = stored!.metadata.allowed_scopes as string[];
      for (const scope of allowList) expect(OIDC_SCOPES.includes(scope) || scope === 'notes:read').toBe(true);
      accepted += 1;
    }), { numRuns: 400 });
    // about 7 % of these bodies pass (measured over 5,000 samples: 352): 28 expected, so
    // "more than 5" fails only when something refuses what it should not (150 runs made
    // 5 or fewer a 1-in-20 chance once the policy grew stricter)
    expect(accepted).toBeGreaterThan(5);
  });
});
