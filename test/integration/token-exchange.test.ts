/*
 * Token exchange (RFC 8693), issue 14 done-means 4: service A, which received
 * a person's access token as API A, exchanges it for a token aimed at API B
 * with narrowed scopes and an `act` claim naming A; an exchange the policy
 * does not allow is refused; both are audited (read through the admin API).
 * The subject tokens are real: from the authorization code flow through the
 * pages (JWT and opaque) and from the password grant. Revoking the person's
 * grant, or the person, makes the exchanged token inactive. On SQL token
 * state (embedded PGlite) and on Redis (with Postgres).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { decodeJwt, SignJWT, generateKeyPair } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { passwordGrant, tokenRequest, type ClientCredentials, type TokenResponse } from '../support/oauth.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { codeFlow, introspect, REDIRECT_URI, revoke } from '../tokens/token-flows.ts';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const API_A = 'https://a.token-exchange.test';
const API_A_OPAQUE = 'https://a-opaque.token-exchange.test';
const API_B = 'https://b.token-exchange.test';
const API_C = 'https://c.token-exchange.test';
const API_OPAQUE_TARGET = 'https://opaque-target.token-exchange.test';
const PASSWORD = 'a long and unguessable passphrase';

const redisAvailable = (await postgresUp()) && (await redisUp());

interface Setup { label: string; database: 'memory' | 'postgres'; redis: boolean }

function exchange(server: TestServer, client: ClientCredentials, params: Record<string, string | string[]>): Promise<TokenResponse> {
  return tokenRequest(server.url, { grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN, ...params }, client);
}

function suite(setup: Setup) {
  describe(`token exchange, ${setup.label}`, () => {
    let server: TestServer;
    let admin: string;
    let app: ClientCredentials; // the person signs in here, for API A
    let firstParty: ClientCredentials; // the password grant
    let serviceA: ClientCredentials; // API A's backend: introspects A, may exchange for B
    let serviceB: ClientCredentials; // API B's backend: introspects B, may exchange for C
    let impersonator: ClientCredentials; // introspects A, may exchange for B without being named
    let noPolicy: ClientCredentials; // introspects A, registered for the grant, no audiences
    let notRegistered: ClientCredentials; // introspects A, not registered for the grant
    let apiB: ClientCredentials; // introspector of B only
    let userId: string;
    let username: string;
    let users = 0;

    beforeAll(async () => {
      server = await startTestServer({ database: setup.database, redis: setup.redis });
      const { resources } = server.services;
      await resources.create({ identifier: API_A, scopes: ['read', 'write'], tokenFormat: 'jwt' });
      await resources.create({ identifier: API_A_OPAQUE, scopes: ['read', 'write'], tokenFormat: 'opaque' });
      await resources.create({ identifier: API_B, scopes: ['read', 'write'], tokenFormat: 'jwt', accessTokenTtl: 300 });
      await resources.create({ identifier: API_C, scopes: ['read'], tokenFormat: 'jwt' });
      await resources.create({ identifier: API_OPAQUE_TARGET, scopes: ['read'], tokenFormat: 'opaque' });
      app = await server.createClient({ name: 'app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scopes: ['openid', 'offline_access', 'read', 'write'] });
      firstParty = await server.createClient({ name: 'first party', grantTypes: ['password'], firstParty: true, scopes: ['openid', 'read', 'write'] });
      const exchanger = (name: string, extra: Record<string, unknown>) => server.createClient({ name, grantTypes: [TOKEN_EXCHANGE], scopes: ['read', 'write'], ...extra } as never);
      // also a client_credentials client, for its own (actor) tokens
      serviceA = await exchanger('service A', { grantTypes: [TOKEN_EXCHANGE, 'client_credentials'], introspectFor: [API_A, API_A_OPAQUE], tokenExchangeAudiences: [API_B, API_OPAQUE_TARGET] });
      serviceB = await exchanger('service B', { introspectFor: [API_B], tokenExchangeAudiences: [API_C] });
      impersonator = await exchanger('impersonator', { introspectFor: [API_A], tokenExchangeAudiences: [API_B], tokenExchangeImpersonation: true });
      noPolicy = await exchanger('no policy', { introspectFor: [API_A] });
      notRegistered = await server.createClient({ name: 'not registered', grantTypes: ['client_credentials'], scopes: ['read'], introspectFor: [API_A] });
      apiB = await server.createClient({ name: 'API B', grantTypes: ['client_credentials'], introspectFor: [API_B, API_C] });
      admin = await adminToken(server);
    }, 60_000);

    afterAll(async () => { await server?.stop(); });

    /** A new person (so revocations in one test touch no other). */
    async function person(): Promise<{ id: string; username: string }> {
      const name = `person-${++users}`;
      return { id: (await server.createUser({ username: name, password: PASSWORD })).id, username: name };
    }

    /** The person's access token for API A (JWT) from the code flow through the pages. */
    async function userTokenForA(who: { username: string }, resource = API_A, scope = 'read write'): Promise<string> {
      const tokens = await codeFlow({ baseUrl: server.url, client: app, user: { username: who.username, password: PASSWORD }, scope, resource });
      return tokens.access_token;
    }

    beforeAll(async () => {
      ({ id: userId, username } = await person());
    });

    test('service A exchanges the person\'s token from the code flow for one aimed at API B: narrowed scope, act naming A, sub the person', async () => {
      const subject = await userTokenForA({ username });
      const answer = await exchange(server, serviceA, { subject_token: subject, resource: API_B, scope: 'read' });
      expect(answer).toMatchObject({ status: 200, body: { issued_token_type: ACCESS_TOKEN, token_type: 'Bearer', scope: 'read' } });
      expect(answer.body.refresh_token).toBeUndefined();
      expect(answer.body.id_token).toBeUndefined();
      const claims = decodeJwt(answer.body.access_token!);
      const subjectClaims = decodeJwt(subject);
      expect(claims).toMatchObject({ aud: API_B, sub: userId, client_id: serviceA.clientId, scope: 'read', act: { sub: serviceA.clientId }, iss: server.issuer });
      expect(typeof claims.jti).toBe('string');
      // no longer than API B's lifetime, nor than the subject token's
      expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300);
      expect(claims.exp!).toBeLessThanOrEqual(subjectClaims.exp!);

      // API B's introspector sees it, with who acts
      expect(await introspect(server.url, apiB, answer.body.access_token!)).toMatchObject({
        active: true, sub: userId, aud: API_B, scope: 'read', client_id: serviceA.clientId, act: { sub: serviceA.clientId },
      });
      // and the subject token is untouched
      expect(await introspect(server.url, serviceA, subject)).toMatchObject({ active: true, scope: 'read write' });
    });

    test('without scope: everything the subject token holds that API B offers service A', async () => {
      const subject = await userTokenForA({ username });
      const answer = await exchange(server, serviceA, { subject_token: subject, audience: API_B });
      expect(answer).toMatchObject({ status: 200, body: { scope: 'read write' } });
      expect(decodeJwt(answer.body.access_token!)).toMatchObject({ aud: API_B, scope: 'read write' });
    });

    test('an opaque subject token (API A with opaque tokens) is exchanged too', async () => {
      const subject = await userTokenForA({ username }, API_A_OPAQUE);
      expect(subject.split('.')).toHaveLength(1);
      const answer = await exchange(server, serviceA, { subject_token: subject, resource: API_B, scope: 'write' });
      expect(answer).toMatchObject({ status: 200, body: { scope: 'write' } });
      expect(decodeJwt(answer.body.access_token!)).toMatchObject({ aud: API_B, sub: userId, act: { sub: serviceA.clientId } });
    });

    test('a token from the password grant is exchanged; the exchanged token is exchanged again, act nested (RFC 8693 §4.1)', async () => {
      const who = await person();
      const issued = await passwordGrant(server.url, firstParty, { username: who.username, password: PASSWORD, resource: API_A, scope: 'read' });
      expect(issued.status).toBe(200);
      const toB = await exchange(server, serviceA, { subject_token: issued.body.access_token!, resource: API_B });
      expect(toB).toMatchObject({ status: 200, body: { scope: 'read' } });
      const toC = await exchange(server, serviceB, { subject_token: toB.body.access_token!, resource: API_C });
      expect(toC).toMatchObject({ status: 200, body: { scope: 'read' } });
      expect(decodeJwt(toC.body.access_token!)).toMatchObject({
        aud: API_C, sub: who.id, client_id: serviceB.clientId, act: { sub: serviceB.clientId, act: { sub: serviceA.clientId } },
      });
    });

    test('impersonation only for a client registered for it: no act naming it', async () => {
      const subject = await userTokenForA({ username });
      const answer = await exchange(server, impersonator, { subject_token: subject, resource: API_B });
      expect(answer.status).toBe(200);
      const claims = decodeJwt(answer.body.access_token!);
      expect(claims).toMatchObject({ aud: API_B, sub: userId, client_id: impersonator.clientId });
      expect(claims.act).toBeUndefined();
    });

    test('an actor_token of the client itself goes into act; another client\'s is refused', async () => {
      const subject = await userTokenForA({ username });
      const own = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: API_B, scope: 'read' }, serviceA);
      expect(own.status).toBe(200);
      const withActor = await exchange(server, serviceA, { subject_token: subject, resource: API_B, actor_token: own.body.access_token!, actor_token_type: ACCESS_TOKEN });
      expect(withActor.status).toBe(200);
      expect(decodeJwt(withActor.body.access_token!).act).toEqual({ sub: serviceA.clientId });
      const foreign = await exchange(server, serviceA, { subject_token: subject, resource: API_B, actor_token: subject, actor_token_type: ACCESS_TOKEN });
      expect(foreign).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    });

    test('refused: an audience outside the policy, no policy, opaque target, not registered for the grant', async () => {
      const subject = await userTokenForA({ username });
      // API C is registered, but not in service A's token_exchange_audiences
      expect(await exchange(server, serviceA, { subject_token: subject, resource: API_C })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
      // unregistered audience
      expect(await exchange(server, serviceA, { subject_token: subject, audience: 'https://nowhere.token-exchange.test' })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
      // two targets, or resource and audience naming different ones
      expect(await exchange(server, serviceA, { subject_token: subject, resource: [API_B, API_OPAQUE_TARGET] })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
      expect(await exchange(server, serviceA, { subject_token: subject, resource: API_B, audience: API_OPAQUE_TARGET })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
      // no target at all: absent means nothing
      expect(await exchange(server, serviceA, { subject_token: subject })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
      // absent policy: no audience at all
      expect(await exchange(server, noPolicy, { subject_token: subject, resource: API_B })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
      // a policy naming an opaque-token resource: refused, never an opaque token tied to another client's grant
      expect(await exchange(server, serviceA, { subject_token: subject, resource: API_OPAQUE_TARGET })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
      // a client not registered for the grant
      expect(await exchange(server, notRegistered, { subject_token: subject, resource: API_B })).toMatchObject({ status: 400, body: { error: 'unauthorized_client' } });
    });

    test('refused: scope widening, in any form', async () => {
      const subject = await userTokenForA({ username }, API_A, 'read');
      // the subject token holds only read
      expect(await exchange(server, serviceA, { subject_token: subject, resource: API_B, scope: 'read write' })).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
      expect(await exchange(server, serviceA, { subject_token: subject, resource: API_B, scope: 'admin' })).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
      expect(await exchange(server, serviceA, { subject_token: subject, resource: API_B, scope: 'openid' })).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
      // the admin API is never a target of an exchange
      expect(await exchange(server, serviceA, { subject_token: subject, resource: `${server.issuer}/admin`, scope: 'admin' })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    });

    test('refused: forged, foreign, malformed and other clients\' tokens (one answer for all)', async () => {
      const subject = await userTokenForA({ username });
      const refused = { status: 400, body: { error: 'invalid_request', error_description: 'subject_token is not valid or may not be exchanged by this client' } };
      // a token service B never received as an API: it introspects B, not A
      const notB = await exchange(server, serviceB, { subject_token: subject, resource: API_C });
      expect(notB).toMatchObject(refused);
      // tampered payload, original signature
      const [header, , signature] = subject.split('.');
      const widened = Buffer.from(JSON.stringify({ ...decodeJwt(subject), scope: 'read write admin' })).toString('base64url');
      expect(await exchange(server, serviceA, { subject_token: `${header}.${widened}.${signature}`, resource: API_B })).toMatchObject(refused);
      // signed by someone else, claiming to be this issuer
      const { privateKey } = await generateKeyPair('ES256');
      const foreign = await new SignJWT({ ...decodeJwt(subject) }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
      expect(await exchange(server, serviceA, { subject_token: foreign, resource: API_B })).toMatchObject(refused);
      // garbage, opaque-looking and huge
      expect(await exchange(server, serviceA, { subject_token: 'not-a-token', resource: API_B })).toMatchObject(refused);
      // (beyond the input limits the front door refuses it before the grant runs)
      expect(await exchange(server, serviceA, { subject_token: 'x'.repeat(9000), resource: API_B })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      // a client's own client_credentials token is nobody's: no person, no grant, nothing to exchange
      const cc = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: API_A, scope: 'read' }, serviceA);
      expect(cc.status).toBe(200);
      expect(await exchange(server, serviceA, { subject_token: cc.body.access_token!, resource: API_B })).toMatchObject(refused);
      // wrong token types
      expect(await exchange(server, serviceA, { subject_token: subject, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', resource: API_B })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      expect(await exchange(server, serviceA, { subject_token: subject, resource: API_B, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      expect(await exchange(server, serviceA, { resource: API_B })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    });

    test('a revoked subject token cannot be exchanged', async () => {
      const subject = await userTokenForA({ username });
      // revoked by its own client (RFC 7009): denylisted
      expect((await revoke(server.url, app, subject)).status).toBe(200);
      expect(await exchange(server, serviceA, { subject_token: subject, resource: API_B })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    });

    test('revoking the person\'s grant makes the exchanged token inactive; revoking the person too', async () => {
      const who = await person();
      const subject = await userTokenForA(who);
      const exchanged = (await exchange(server, serviceA, { subject_token: subject, resource: API_B })).body.access_token!;
      expect(await introspect(server.url, apiB, exchanged)).toMatchObject({ active: true });
      const grants = await call(server, admin, 'GET', `/grants?user=${who.id}`);
      expect(grants.status).toBe(200);
      const appGrants = grants.body.items.filter((g: { client_id: string }) => g.client_id === app.clientId);
      expect(appGrants).toHaveLength(1);
      expect((await call(server, admin, 'DELETE', `/grants/${appGrants[0].id}`)).status).toBe(204);
      expect(await introspect(server.url, apiB, exchanged)).toEqual({ active: false });
      expect(await introspect(server.url, serviceA, subject)).toEqual({ active: false });
      // and what was exchanged cannot be exchanged again
      expect(await exchange(server, serviceB, { subject_token: exchanged, resource: API_C })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });

      // revoking all of a person's grants (what disabling the person does) covers them too
      const other = await person();
      const otherExchanged = (await exchange(server, serviceA, { subject_token: await userTokenForA(other), resource: API_B })).body.access_token!;
      expect(await introspect(server.url, apiB, otherExchanged)).toMatchObject({ active: true });
      expect((await call(server, admin, 'POST', `/users/${other.id}/disable`, {})).status).toBe(200);
      expect(await introspect(server.url, apiB, otherExchanged)).toEqual({ active: false });
    });

    test('the exchanging client revokes its exchanged token: that token only, the person\'s token and grant stay', async () => {
      const subject = await userTokenForA({ username });
      const exchanged = (await exchange(server, serviceA, { subject_token: subject, resource: API_B })).body.access_token!;
      // the exchanging client introspects its own token, act included
      expect(await introspect(server.url, serviceA, exchanged)).toMatchObject({ active: true, act: { sub: serviceA.clientId } });
      expect((await revoke(server.url, serviceA, exchanged)).status).toBe(200);
      expect(await introspect(server.url, apiB, exchanged)).toEqual({ active: false });
      expect(await introspect(server.url, serviceA, subject)).toMatchObject({ active: true });
      expect((await exchange(server, serviceA, { subject_token: subject, resource: API_B })).status).toBe(200);
    });

    test('disabling the exchanging client cuts off the tokens it obtained by exchange', async () => {
      const service = await server.createClient({ name: 'short-lived service', grantTypes: [TOKEN_EXCHANGE], scopes: ['read'], introspectFor: [API_A], tokenExchangeAudiences: [API_B] } as never);
      const exchanged = (await exchange(server, service, { subject_token: await userTokenForA({ username }), resource: API_B })).body.access_token!;
      expect(await introspect(server.url, apiB, exchanged)).toMatchObject({ active: true });
      expect((await call(server, admin, 'POST', `/clients/${service.clientId}/disable`, {})).status).toBe(200);
      expect(await introspect(server.url, apiB, exchanged)).toEqual({ active: false });
    });

    test('every exchange is audited, issued and refused, with client, subject, audience, scope and delegation', async () => {
      const who = await person();
      const subject = await userTokenForA(who);
      expect((await exchange(server, serviceA, { subject_token: subject, resource: API_B, scope: 'read' })).status).toBe(200);
      expect((await exchange(server, serviceA, { subject_token: subject, resource: API_C, scope: 'read' })).status).toBe(400);
      await server.services.audit.flush();

      const issued = await call(server, admin, 'GET', `/audit?type=token.exchanged&subject=${who.id}`);
      expect(issued.status).toBe(200);
      expect(issued.body.items).toHaveLength(1);
      expect(issued.body.items[0]).toMatchObject({
        type: 'token.exchanged', actor: serviceA.clientId, subject: who.id, client_id: serviceA.clientId,
        details: { audience: API_B, scope: 'read', requested_scope: 'read', mode: 'delegation', actor: serviceA.clientId, subject_client_id: app.clientId },
      });

      const refused = await call(server, admin, 'GET', `/audit?type=token.exchange_refused&client=${serviceA.clientId}`);
      expect(refused.status).toBe(200);
      const mine = refused.body.items.filter((e: { details: { audience?: string; requested_scope?: string } }) => e.details.audience === API_C && e.details.requested_scope === 'read');
      expect(mine.length).toBeGreaterThanOrEqual(1);
      expect(mine[0]).toMatchObject({ actor: serviceA.clientId, details: { error: 'invalid_target', audience: API_C } });
      // never a token in the audit log
      expect(JSON.stringify([issued.body, refused.body])).not.toContain(subject);
    });

    test('discovery advertises the grant type', async () => {
      const res = await fetch(`${server.url}/.well-known/openid-configuration`);
      const metadata = await res.json() as { grant_types_supported: string[] };
      expect(metadata.grant_types_supported).toContain(TOKEN_EXCHANGE);
    });
  });
}

suite({ label: 'SQL token state (embedded PGlite)', database: 'memory', redis: false });
describeWithService('Postgres and Redis', redisAvailable)('Redis token state', () => {
  suite({ label: 'Redis token state (Postgres)', database: 'postgres', redis: true });
});
