/*
 * The revocation paths of the admin API (issue 11), end to end with two
 * instances on one Postgres (with Redis, and without): the admin call is made
 * at A, and at B — which issued the tokens and has the clients cached — every
 * covered token introspects inactive at once, every covered refresh token
 * fails, and the tokens of other users and clients stay active.
 *
 *   client disabled (and enabled again: nothing comes back), secret rotated
 *   without grace and with grace, all of a client revoked (its
 *   client_credentials JWT included, its secret unchanged), user deleted,
 *   password set by an admin.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startTwoInstances, type TestServer, type TwoInstances } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { tokenRequest, type ClientCredentials } from '../support/oauth.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { clientCredentials, codeFlow, introspect, isJwt, refresh, REDIRECT_URI, tokenEndpoint, type Tokens } from '../tokens/token-flows.ts';

const API = 'https://api.admin-revocation.test';
const OPAQUE_API = 'https://opaque.admin-revocation.test';
const PASSWORD = 'a long and unguessable passphrase';

const pgUp = await postgresUp();
const setups = [
  { name: 'Postgres and Redis', redis: true, up: pgUp && (await redisUp()) },
  { name: 'Postgres without Redis', redis: false, up: pgUp },
];

const APP = { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], redirectUris: [REDIRECT_URI], scopes: ['openid', 'offline_access', 'read'] };

for (const setup of setups) {
  describeWithService(setup.name, setup.up)(`two instances, ${setup.name}: admin revocations at A hold at B at once`, () => {
    let instances: TwoInstances | undefined;
    let a: TestServer;
    let b: TestServer;
    let rs: ClientCredentials;
    let admin: string;
    let bystander: ClientCredentials;
    let bystanderTokens: { jwt: string; opaque: string };
    let users = 0;

    const path = (clientId: string) => `/clients/${encodeURIComponent(clientId)}`;
    const newUser = async () => {
      const user = { username: `rev-user-${++users}`, password: PASSWORD };
      return { ...user, id: (await a.createUser(user)).id };
    };

    /** At B: a client_credentials JWT and opaque token, and a user's tokens by the code flow (JWT for the API, opaque + refresh). */
    async function tokensAtB(client: ClientCredentials, user: { username: string; password: string }) {
      const jwt = await clientCredentials(b.url, client, API, 'read');
      const opaque = await clientCredentials(b.url, client, OPAQUE_API, 'read');
      const own: Tokens = await codeFlow({ baseUrl: b.url, client, user, scope: 'openid offline_access' });
      const api: Tokens = await codeFlow({ baseUrl: b.url, client, user, scope: 'openid offline_access read', resource: API });
      expect([isJwt(jwt), isJwt(opaque), isJwt(own.access_token), isJwt(api.access_token)]).toEqual([true, false, false, true]);
      for (const token of [jwt, opaque, api.access_token]) expect(await introspect(b.url, rs, token)).toMatchObject({ active: true });
      for (const token of [own.access_token, own.refresh_token!]) expect(await introspect(b.url, client, token)).toMatchObject({ active: true });
      return { jwt, opaque, own, api };
    }

    /** The bystander client's tokens, and another user's, must be untouched by whatever was revoked. */
    async function othersStayActive(otherUser?: { client: ClientCredentials; tokens: Tokens }) {
      for (const token of [bystanderTokens.jwt, bystanderTokens.opaque]) expect(await introspect(b.url, rs, token)).toMatchObject({ active: true });
      if (otherUser) {
        expect(await introspect(b.url, otherUser.client, otherUser.tokens.access_token)).toMatchObject({ active: true });
        expect(await introspect(b.url, otherUser.client, otherUser.tokens.refresh_token!)).toMatchObject({ active: true });
      }
    }

    beforeAll(async () => {
      instances = await startTwoInstances({ redis: setup.redis });
      ({ a, b } = instances);
      await a.services.resources.create({ identifier: API, scopes: ['read'] });
      await a.services.resources.create({ identifier: OPAQUE_API, scopes: ['read'], tokenFormat: 'opaque' });
      rs = await a.createClient({ name: 'api', grantTypes: ['client_credentials'], introspectFor: [API, OPAQUE_API] });
      bystander = await a.createClient({ name: 'bystander', grantTypes: ['client_credentials'], scopes: ['read'] });
      bystanderTokens = { jwt: await clientCredentials(b.url, bystander, API, 'read'), opaque: await clientCredentials(b.url, bystander, OPAQUE_API, 'read') };
      admin = await adminToken(a);
    }, 60_000);

    afterAll(async () => {
      await instances?.stop();
    });

    test('client disabled at A: refused at B at once, every token inactive; enabled again, nothing comes back', async () => {
      const app = await a.createClient({ name: 'to disable', ...APP });
      const user = await newUser();
      const t = await tokensAtB(app, user);

      const disabled = await call(a, admin, 'POST', `${path(app.clientId)}/disable`, {});
      expect(disabled).toMatchObject({ status: 200, body: { client: { disabled: true }, revoked_grants: 2 } });

      const again = await tokenRequest(b.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, app);
      expect({ status: again.status, error: again.body.error }).toEqual({ status: 401, error: 'invalid_client' });
      expect((await refresh(b.url, app, t.own.refresh_token!)).status).toBe(401);
      for (const token of [t.jwt, t.opaque, t.api.access_token]) expect(await introspect(b.url, rs, token)).toEqual({ active: false });
      expect((await fetch(`${b.url}/me`, { headers: { authorization: `Bearer ${t.own.access_token}` } })).status).toBe(401);
      // its own introspection is refused: it cannot authenticate
      expect((await tokenEndpoint(b.url, 'introspection', app, { token: t.own.refresh_token! })).status).toBe(401);
      expect((await call(b, admin, 'GET', path(app.clientId))).body).toMatchObject({ disabled: true });

      expect(await call(a, admin, 'POST', `${path(app.clientId)}/enable`, {})).toMatchObject({ status: 200, body: { disabled: false } });
      // usable again, with the same secret, and nothing it held before comes back
      expect(await introspect(b.url, rs, await clientCredentials(b.url, app, API, 'read'))).toMatchObject({ active: true });
      for (const token of [t.jwt, t.opaque, t.api.access_token]) expect(await introspect(b.url, rs, token)).toEqual({ active: false });
      for (const token of [t.own.access_token, t.own.refresh_token!, t.api.refresh_token!]) expect(await introspect(b.url, app, token)).toEqual({ active: false });
      const refreshed = await refresh(b.url, app, t.own.refresh_token!);
      expect({ status: refreshed.status, error: refreshed.body.error }).toEqual({ status: 400, error: 'invalid_grant' });
      await othersStayActive();
    });

    test('secret rotated at A without grace: B refuses the old secret, every token the client held is inactive, refresh tokens included', async () => {
      const app = await a.createClient({ name: 'to rotate', ...APP });
      const user = await newUser();
      const t = await tokensAtB(app, user);

      const rotated = await call(a, admin, 'POST', `${path(app.clientId)}/rotate-secret`, {});
      expect(rotated).toMatchObject({ status: 200, body: { client_id: app.clientId, previous_secret_expires_at: null } });
      const renewed = { clientId: app.clientId, clientSecret: rotated.body.client_secret as string };
      expect(renewed.clientSecret).not.toBe(app.clientSecret);

      const withOld = await tokenRequest(b.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, app);
      expect({ status: withOld.status, error: withOld.body.error }).toEqual({ status: 401, error: 'invalid_client' });
      expect((await refresh(b.url, app, t.own.refresh_token!)).status).toBe(401);
      for (const token of [t.jwt, t.opaque, t.api.access_token]) expect(await introspect(b.url, rs, token)).toEqual({ active: false });
      for (const token of [t.own.access_token, t.own.refresh_token!, t.api.refresh_token!]) expect(await introspect(b.url, renewed, token)).toEqual({ active: false });
      // without grace a rotation is the answer to a leaked secret: the grants it was used with are revoked too
      const refreshed = await refresh(b.url, renewed, t.own.refresh_token!);
      expect({ status: refreshed.status, error: refreshed.body.error }).toEqual({ status: 400, error: 'invalid_grant' });
      expect(await introspect(b.url, rs, await clientCredentials(b.url, renewed, API, 'read'))).toMatchObject({ active: true });
      await othersStayActive();
    });

    test('secret rotated at A with grace: the old secret and its tokens still work at B, the new one too', async () => {
      const app = await a.createClient({ name: 'to hand over', grantTypes: ['client_credentials'], scopes: ['read'] });
      const before = await clientCredentials(b.url, app, API, 'read');
      const rotated = await call(a, admin, 'POST', `${path(app.clientId)}/rotate-secret`, { grace_seconds: 3600 });
      expect(rotated.status).toBe(200);
      expect(Date.parse(rotated.body.previous_secret_expires_at) - Date.now()).toBeGreaterThan(3500_000);
      const renewed = { clientId: app.clientId, clientSecret: rotated.body.client_secret as string };
      expect(await introspect(b.url, rs, before)).toMatchObject({ active: true });
      expect(await introspect(b.url, rs, await clientCredentials(b.url, app, API, 'read'))).toMatchObject({ active: true });
      expect(await introspect(b.url, rs, await clientCredentials(b.url, renewed, API, 'read'))).toMatchObject({ active: true });

      // a rotation without grace afterwards ends the old secrets at once, the one in its grace period too
      const final = await call(a, admin, 'POST', `${path(app.clientId)}/rotate-secret`, { grace_seconds: 0 });
      for (const old of [app, renewed]) {
        expect((await tokenRequest(b.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, old)).status).toBe(401);
      }
      expect(await introspect(b.url, rs, before)).toEqual({ active: false });
      expect(await introspect(b.url, rs, await clientCredentials(b.url, { clientId: app.clientId, clientSecret: final.body.client_secret }, API, 'read'))).toMatchObject({ active: true });
    });

    test('all of a client revoked at A: its client_credentials JWT and opaque token and every grant are inactive at B; its secret still works', async () => {
      const app = await a.createClient({ name: 'to revoke', ...APP });
      const user = await newUser();
      const t = await tokensAtB(app, user);

      const revoked = await call(a, admin, 'POST', '/grants/revoke', { client: app.clientId });
      expect(revoked).toMatchObject({ status: 200, body: { revoked_grants: 2, access_tokens_cut_off: true } });

      for (const token of [t.jwt, t.opaque, t.api.access_token]) expect(await introspect(b.url, rs, token)).toEqual({ active: false });
      for (const token of [t.own.access_token, t.own.refresh_token!, t.api.refresh_token!]) expect(await introspect(b.url, app, token)).toEqual({ active: false });
      const refreshed = await refresh(b.url, app, t.own.refresh_token!);
      expect({ status: refreshed.status, error: refreshed.body.error }).toEqual({ status: 400, error: 'invalid_grant' });
      expect(await introspect(b.url, rs, await clientCredentials(b.url, app, API, 'read'))).toMatchObject({ active: true });
      await othersStayActive();
    });

    test('user deleted at A: every token of the user is inactive at B, refresh fails; another user of the same client keeps theirs', async () => {
      const app = await a.createClient({ name: 'users app', ...APP });
      const user = await newUser();
      const other = await newUser();
      const t = await tokensAtB(app, user);
      const otherTokens = await codeFlow({ baseUrl: b.url, client: app, user: other, scope: 'openid offline_access' });

      const deleted = await call(a, admin, 'DELETE', `/users/${user.username}`);
      expect(deleted).toMatchObject({ status: 200, body: { id: user.id, deleted: true, revoked_grants: 2 } });

      expect(await introspect(b.url, rs, t.api.access_token)).toEqual({ active: false });
      for (const token of [t.own.access_token, t.own.refresh_token!, t.api.refresh_token!]) expect(await introspect(b.url, app, token)).toEqual({ active: false });
      expect((await refresh(b.url, app, t.own.refresh_token!)).status).toBe(400);
      expect((await call(b, admin, 'GET', `/users/${user.id}`)).status).toBe(404);
      // the client's own tokens belong to no user and stay
      for (const token of [t.jwt, t.opaque]) expect(await introspect(b.url, rs, token)).toMatchObject({ active: true });
      await othersStayActive({ client: app, tokens: otherTokens });
    });

    test('password set at A: every token of the user is inactive at B, refresh fails; another user keeps theirs', async () => {
      const app = await a.createClient({ name: 'password app', ...APP });
      const user = await newUser();
      const other = await newUser();
      const t = await tokensAtB(app, user);
      const otherTokens = await codeFlow({ baseUrl: b.url, client: app, user: other, scope: 'openid offline_access' });

      const set = await call(a, admin, 'POST', `/users/${user.username}/password`, { password: 'another long passphrase, new' });
      expect(set).toMatchObject({ status: 200, body: { id: user.id, revoked_grants: 2 } });

      expect(await introspect(b.url, rs, t.api.access_token)).toEqual({ active: false });
      for (const token of [t.own.access_token, t.own.refresh_token!, t.api.refresh_token!]) expect(await introspect(b.url, app, token)).toEqual({ active: false });
      expect((await refresh(b.url, app, t.own.refresh_token!)).status).toBe(400);
      await othersStayActive({ client: app, tokens: otherTokens });
      // the new password signs in at B
      await codeFlow({ baseUrl: b.url, client: app, user: { username: user.username, password: 'another long passphrase, new' }, scope: 'openid' });
    });
  });
}
