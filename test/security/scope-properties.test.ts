// Property-based tests (fast-check) of the scope and audience rules: for any
// client configuration (allow-list random, empty or absent; first-party or
// not; public or not; any grant types) and any request (any scope string,
// junk included; any resource), issued scopes ⊆ the client's allow-list ∩
// what the resource offers, and `admin` only with an explicit grant. Checked
// on the pure rules and end to end against a running server.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import fc from 'fast-check';
import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import { ADMIN_SCOPE, adminResourceOf, allowedScopes } from '../../src/provider/index.ts';
import { resourceIndicatorsConfiguration } from '../../src/provider/resource-servers.ts';
import { clientMetadataOf, type NewClient } from '../../src/clients/repository.ts';
import { OIDC_SCOPES } from '../../src/clients/oidc-scopes.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorize, tokenRequest } from '../support/oauth.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { issuedScopeViolations, refusalOf, words, type Outcome } from './issued-scopes.ts';

const API_A = 'https://props-a.example.test';
const API_B = 'https://props-b.example.test';
// stored before `admin` was reserved (the repository, unlike the admin API, does not refuse it)
const LEGACY_API = 'https://props-legacy.example.test';
const UNKNOWN_API = 'https://props-unknown.example.test';
const RESOURCE_SCOPES = new Map<string, string[]>([
  [API_A, ['read', 'write']],
  [API_B, ['write', 'delete', 'orders:read']],
  [LEGACY_API, [ADMIN_SCOPE, 'sync']],
]);
const REDIRECT_URI = 'https://props-app.example.test/cb';
const USER = { username: 'props-user', password: 'props-user-password', email: 'props@example.test', roles: ['staff'] };
const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'password'];

const KNOWN_SCOPES = [...new Set([...OIDC_SCOPES, ADMIN_SCOPE, ...[...RESOURCE_SCOPES.values()].flat()])];

// ---- arbitraries ----

/** A scope token: a known one, a near miss, or junk (spaces, control characters, unicode). */
const scopeToken = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...KNOWN_SCOPES) },
  { weight: 1, arbitrary: fc.constantFrom('Admin', 'admin ', 'openid\u0000', 'read,write', 'ADMIN', 'emails', '*', 'admin:all') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);
const joined = (tokens: fc.Arbitrary<string[]>) => tokens.chain((list) => fc.constantFrom(' ', ' ', ' ', '  ', '+').map((sep) => list.join(sep)));
const scopeString = joined(fc.array(scopeToken, { maxLength: 7 }));

/** A scope request near a client's allow-list (so that some answers are tokens, not only refusals), or anything. */
const scopeStringFor = (allowList: string[] | undefined) => (allowList?.length
  ? fc.oneof(
    { weight: 3, arbitrary: joined(fc.subarray(allowList)) },
    { weight: 2, arbitrary: joined(fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...allowList) }, { weight: 1, arbitrary: scopeToken }), { maxLength: 6 })) },
    { weight: 1, arbitrary: scopeString },
  )
  : scopeString);

/** An allow-list as registered: absent (undefined), empty, or some of the scopes the server offers. */
const allowList = fc.option(fc.subarray(KNOWN_SCOPES), { nil: undefined, freq: 4 });

const clientConfig = fc.record({
  scopes: allowList,
  public: fc.boolean(),
  grantTypes: fc.subarray(GRANT_TYPES, { minLength: 1 }),
}).chain((config) => fc.record({
  // mostly first-party when the password grant is asked for (else the registration is simply refused)
  firstParty: config.grantTypes.includes('password') ? fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) : fc.boolean(),
}).map(({ firstParty }) => ({ ...config, firstParty })));

const resourceIndicator = (issuer: string) => fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<string | undefined>(undefined, API_A, API_B, LEGACY_API, adminResourceOf(issuer)) },
  { weight: 1, arbitrary: fc.constantFrom(UNKNOWN_API, 'not a uri', `${API_A}#fragment`, `${adminResourceOf(issuer)}/`, API_A.toUpperCase()) },
);

/**
 * A request a client could make in good faith — a resource it has scopes at
 * (or none), scopes from its allow-list — with sometimes a token or two more:
 * so that many answers are tokens to check, not only refusals.
 */
function plausibleRequest(allowList: string[], adminResource: string) {
  const allowed = new Set(allowList);
  const resources: Array<string | undefined> = [undefined, ...[...RESOURCE_SCOPES].filter(([, scopes]) => scopes.some((s) => allowed.has(s))).map(([id]) => id)];
  if (allowed.has(ADMIN_SCOPE)) resources.push(adminResource);
  return fc.constantFrom(...resources).chain((resource) => {
    const offered = resource === adminResource ? [ADMIN_SCOPE] : resource ? RESOURCE_SCOPES.get(resource)! : OIDC_SCOPES;
    const candidates = allowList.filter((scope) => offered.includes(scope) || OIDC_SCOPES.includes(scope));
    const extra = fc.oneof({ weight: 3, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.array(scopeToken, { maxLength: 2 }) });
    return fc.tuple(fc.subarray(candidates), extra).map(([scopes, more]) => ({ scope: [...scopes, ...more].join(' '), resource }));
  });
}

// ---- helpers ----

type Config = { scopes?: string[]; firstParty: boolean; public: boolean; grantTypes: string[] };

const newClientOf = (config: Config): NewClient => ({
  name: 'property client',
  grantTypes: config.grantTypes,
  scopes: config.scopes,
  firstParty: config.firstParty,
  public: config.public,
  redirectUris: config.grantTypes.includes('authorization_code') ? [REDIRECT_URI] : undefined,
});

/**
 * The client's metadata as the provider sees it: what the repository stores
 * for this registration (clientMetadataOf), plus Tessera's own properties.
 */
function providerClientOf(config: Config): Client {
  const metadata = clientMetadataOf(newClientOf(config), 'property-client');
  return { ...metadata, first_party: config.firstParty, introspect_for: [] } as unknown as Client;
}

const isSubset = (values: Iterable<string>, of: Iterable<string>) => { const set = new Set(of); return [...values].every((v) => set.has(v)); };

describe('scope and audience rules hold for any client and any request', () => {
  let server: TestServer;
  const ran = { allowList: 0, resourceServerInfo: 0, endToEnd: 0, registrationsRefused: 0, requestsRefused: 0, issued: 0 };
  const refusals = new Map<string, number>();

  let admin: string;

  beforeAll(async () => {
    server = await startTestServer();
    admin = await adminToken(server);
    await server.createUser(USER);
    for (const [identifier, scopes] of RESOURCE_SCOPES) await server.services.resources.create({ identifier, scopes, tokenFormat: 'jwt' });
  });

  afterAll(async () => {
    const total = ran.allowList + ran.resourceServerInfo + ran.endToEnd;
    console.log(`scope properties: ${total} cases (${ran.allowList} allow-list, ${ran.resourceServerInfo} resource-server offers, `
      + `${ran.endToEnd} end-to-end: ${ran.registrationsRefused} registrations refused, ${ran.issued} token answers checked, `
      + `${ran.requestsRefused} requests refused: ${[...refusals].map(([reason, n]) => `${reason} ${n}`).join(', ')})`);
    await server?.stop();
  });

  test('allowedScopes: what a registered client may have of an offer ⊆ its explicit list ∩ the offer (absent: nothing)', () => {
    fc.assert(fc.property(clientConfig, fc.uniqueArray(scopeToken, { maxLength: 8 }), (config, offered) => {
      ran.allowList++;
      const allowed = allowedScopes(offered, providerClientOf(config));
      expect(isSubset(allowed, offered)).toBe(true);
      expect(isSubset(allowed, config.scopes ?? [])).toBe(true);
      if (allowed.includes(ADMIN_SCOPE)) expect(config.scopes).toContain(ADMIN_SCOPE);
    }), { numRuns: 500 });
  });

  test('allowedScopes: a client object without a well-formed list allows nothing', () => {
    const notAList = fc.oneof(fc.constant(undefined), fc.constant(null), fc.string(), fc.constant({ 0: 'admin' }), fc.constant(true));
    fc.assert(fc.property(notAList, fc.boolean(), fc.uniqueArray(scopeToken, { minLength: 1, maxLength: 8 }), (list, present, offered) => {
      ran.allowList++;
      const client = (present ? { allowed_scopes: list } : {}) as unknown as Client;
      expect(allowedScopes(offered, client)).toEqual([]);
    }), { numRuns: 200 });
  });

  test('resource server offers (getResourceServerInfo): ⊆ allow-list ∩ the resource\'s scopes; admin only by client_credentials for the admin resource', async () => {
    const { getResourceServerInfo } = resourceIndicatorsConfiguration({ issuer: server.issuer, resources: server.services.resources, adminTokenTtl: 300 });
    const adminResource = adminResourceOf(server.issuer);
    const grantType = fc.constantFrom(undefined, ...GRANT_TYPES, 'urn:ietf:params:oauth:grant-type:device_code');
    await fc.assert(fc.asyncProperty(clientConfig, grantType, resourceIndicator(server.issuer), async (config, grant, indicator) => {
      ran.resourceServerInfo++;
      // the only part of the request context the rule reads
      const ctx = { oidc: { params: { grant_type: grant } } } as unknown as KoaContextWithOIDC;
      let offer: { scope?: string; audience?: string };
      try {
        offer = await getResourceServerInfo(ctx, indicator ?? '', providerClientOf(config));
      } catch (error) {
        // refusing is always allowed, and it is an OAuth invalid_target
        expect((error as { error?: string }).error).toBe('invalid_target');
        return;
      }
      const offered = words(offer.scope);
      expect(offer.audience).toBe(indicator);
      expect(isSubset(offered, config.scopes ?? [])).toBe(true);
      if (indicator === adminResource) {
        expect(isSubset(offered, [ADMIN_SCOPE])).toBe(true);
        if (offered.length) expect(grant).toBe('client_credentials');
      } else {
        expect(offered).not.toContain(ADMIN_SCOPE);
        expect(isSubset(offered, RESOURCE_SCOPES.get(indicator!) ?? [])).toBe(true);
      }
    }), { numRuns: 300 });
  });

  test('end to end: register any client, ask /auth and /token for anything → issued ⊆ allow-list ∩ offer, admin only explicitly', async () => {
    const adminResource = adminResourceOf(server.issuer);
    // mostly a grant the client was registered for (else the answer is just unauthorized_client)
    const caseOf = clientConfig.chain((config) => fc.tuple(fc.constant(config), fc.record({
      grant: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...config.grantTypes) }, { weight: 1, arbitrary: fc.constantFrom(...GRANT_TYPES) }),
    }).chain(({ grant }) => fc.oneof(
      { weight: 3, arbitrary: plausibleRequest(config.scopes ?? [], adminResource) },
      { weight: 2, arbitrary: fc.record({ scope: scopeStringFor(config.scopes), resource: resourceIndicator(server.issuer) }) },
    ).map((request) => ({ grant, ...request })))));

    async function codeFlow(client: { clientId: string; clientSecret?: string }, scope: string, resource: string | undefined): Promise<Outcome> {
      let result;
      try {
        result = await authorize({
          baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope, user: USER,
          params: { prompt: 'consent', ...(resource !== undefined ? { resource } : {}) },
        });
      } catch (error) {
        // an error page instead of a redirect (e.g. a request it cannot even return to)
        const status = /unexpected page (\d+)/.exec(String(error))?.[1];
        if (status && Number(status) >= 400 && Number(status) < 500) return { refused: `/auth ${status}` };
        throw error;
      }
      if (!result.code) return { refused: `/auth ${result.callback.searchParams.get('error')}` };
      const res = await tokenRequest(server.url, {
        grant_type: 'authorization_code', code: result.code, redirect_uri: REDIRECT_URI, code_verifier: result.verifier,
        ...(resource !== undefined ? { resource } : {}),
      }, client);
      return res.status === 200 ? { tokens: res.body } : refusalOf('/token', res.status, res.body);
    }

    const tokenCall = async (client: { clientId: string; clientSecret?: string }, params: Record<string, string>): Promise<Outcome> => {
      const res = await tokenRequest(server.url, params, client);
      return res.status === 200 ? { tokens: res.body } : refusalOf('/token', res.status, res.body);
    };

    await fc.assert(fc.asyncProperty(caseOf, async ([config, req]) => {
      ran.endToEnd++;
      // registered as an operator does, through the admin API (its checks included)
      const registered = await call(server, admin, 'POST', '/clients', {
        name: 'property client', grant_types: config.grantTypes, first_party: config.firstParty, public: config.public,
        ...(config.scopes ? { scopes: config.scopes } : {}),
        ...(config.grantTypes.includes('authorization_code') ? { redirect_uris: [REDIRECT_URI] } : {}),
      });
      if (registered.status !== 201) {
        expect(registered.status).toBe(400);
        ran.registrationsRefused++; // a registration refused issues nothing
        return;
      }
      const client = { clientId: registered.body.client_id as string, clientSecret: registered.body.client_secret as string | undefined };
      const allowList = config.scopes ?? []; // absent means nothing
      const check = async (label: string, requested: string, grant: string, outcome: Outcome) => {
        if ('refused' in outcome) {
          ran.requestsRefused++;
          const reason = outcome.refused.split(' ').pop()!;
          refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
        } else ran.issued++;
        const problems = await issuedScopeViolations(outcome, {
          baseUrl: server.url, adminResource, resourceScopes: RESOURCE_SCOPES, allowList, grant, requested,
        });
        if (problems.length) throw new Error(`${label}: ${problems.join('; ')} (outcome ${JSON.stringify(outcome).slice(0, 300)})`);
      };
      const params: Record<string, string> = { scope: req.scope, ...(req.resource !== undefined ? { resource: req.resource } : {}) };

      if (req.grant === 'client_credentials') {
        await check('client_credentials', req.scope, req.grant, await tokenCall(client, { grant_type: 'client_credentials', ...params }));
      } else if (req.grant === 'password') {
        await check('password', req.scope, req.grant, await tokenCall(client, { grant_type: 'password', username: USER.username, password: USER.password, ...params }));
      } else if (!config.grantTypes.includes('authorization_code')) {
        // nothing to sign in with: a made-up code or refresh token must be refused
        const made: Record<string, string> = req.grant === 'authorization_code'
          ? { grant_type: 'authorization_code', code: 'made-up', redirect_uri: REDIRECT_URI, code_verifier: 'v'.repeat(43) }
          : { grant_type: 'refresh_token', refresh_token: 'made-up', ...params };
        await check(req.grant, req.scope, req.grant, await tokenCall(client, made));
      } else if (req.grant === 'authorization_code') {
        await check('authorization_code', req.scope, req.grant, await codeFlow(client, req.scope, req.resource));
      } else {
        // an ordinary sign-in for what the client may have (at API_A if it may have some of it), then the refresh asks for anything
        const atApiA = allowList.filter((scope) => RESOURCE_SCOPES.get(API_A)!.includes(scope));
        const baselineScope = [...allowList.filter((scope) => OIDC_SCOPES.includes(scope)), ...atApiA].join(' ');
        const baseline = await codeFlow(client, baselineScope, atApiA.length ? API_A : undefined);
        await check('sign-in before the refresh', baselineScope, 'authorization_code', baseline);
        if ('tokens' in baseline && baseline.tokens.refresh_token) {
          await check('refresh_token', req.scope, req.grant, await tokenCall(client, { grant_type: 'refresh_token', refresh_token: baseline.tokens.refresh_token, ...params }));
        }
      }
    }), { numRuns: 100, endOnFailure: true });
  });
});
