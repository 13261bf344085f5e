/*
 * DPoP (RFC 9449) end to end with a real client library (oauth4webapi):
 * sender-constrained tokens from client_credentials and the authorization
 * code flow, presented at userinfo with a proof, introspected as DPoP; the
 * server's nonces; and a proof presented twice refused — at one instance
 * (token state in SQL, in Redis) and across two instances of one deployment
 * (sharing Redis, sharing Postgres), where the second presentation reaches the
 * other instance, as behind a load balancer.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { request } from 'node:http';
import { randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { SignJWT, calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, type JWK } from 'jose';
import { startTestServer, startTwoInstances, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { driveAuthorization } from '../support/oauth.ts';
import { BrowserAgent } from '../support/browser-agent.ts';
import { introspect, REDIRECT_URI } from '../tokens/token-flows.ts';

const API = 'https://api.dpop.test';
const USER = { username: 'dpop-alice', password: 'a long and unguessable passphrase' };

interface Deployment { instances: TestServer[]; stop(): Promise<void> }

/**
 * A fetch for oauth4webapi that reaches `target` whatever instance the URL
 * names, keeping the Host the client addressed (the issuer's), as a load
 * balancer in front of the instances does. (fetch itself does not let a
 * caller set Host, so node:http.) Every DPoP proof sent is recorded.
 */
function viaInstance(target: TestServer, proofs: string[]) {
  const to = new URL(target.url);
  return (url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown }): Promise<Response> => {
    const addressed = new URL(url);
    const headers: Record<string, string> = { ...init.headers, host: addressed.host };
    if (headers.dpop) proofs.push(headers.dpop);
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      const req = request({ host: to.hostname, port: to.port, method: init.method ?? 'GET', path: addressed.pathname + addressed.search, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const answerHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) for (const v of [value ?? []].flat()) answerHeaders.append(name, v);
          const status = res.statusCode ?? 500;
          resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: answerHeaders }));
        });
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  };
}

/** A token request sent raw (a replay): the same form, client authentication and proof. */
async function rawTokenRequest(target: TestServer, issuer: string, form: string, headers: Record<string, string>) {
  const res = await viaInstance(target, [])(`${issuer}/token`, {
    method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
  });
  return { status: res.status, headers: res.headers, body: await res.json() as Record<string, string> };
}

/** A DPoP proof made by hand (jose), for what a client library never sends: a stale iat, or one proof twice at once. */
async function handMadeProof(keys: { publicKey: CryptoKey; privateKey: CryptoKey }, htu: string, claims: { iat?: number; nonce?: string } = {}) {
  const jwk = await exportJWK(keys.publicKey);
  return new SignJWT({ htm: 'POST', htu, jti: randomUUID(), ...(claims.nonce ? { nonce: claims.nonce } : {}) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .setIssuedAt(claims.iat ?? Math.floor(Date.now() / 1000))
    .sign(keys.privateKey);
}

const basic = (clientId: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

function dpopSuite(name: string, start: () => Promise<Deployment>) {
  describe(name, () => {
  let deployment: Deployment;
  let first: TestServer;
  let second: TestServer;
  let issuer: string;
  let as: oauth.AuthorizationServer;
  let svc: { clientId: string; clientSecret: string };
  let rs: { clientId: string; clientSecret: string };
  let spa: { clientId: string };
  const insecure = { [oauth.allowInsecureRequests]: true };

  /** why the provider refused, at every instance: its error_detail (the answer's description is generic) */
  const refusals: string[] = [];

  beforeAll(async () => {
    deployment = await start();
    for (const instance of deployment.instances) {
      for (const event of ['grant.error', 'userinfo.error']) {
        instance.provider.on(event as 'grant.error', (_ctx: unknown, error: { error_detail?: string }) => { if (error.error_detail) refusals.push(error.error_detail); });
      }
    }
    first = deployment.instances[0]!;
    second = deployment.instances.at(-1)!;
    issuer = first.issuer;
    await first.services.resources.create({ identifier: API, scopes: ['read'] });
    const created = await first.createClient({ name: 'dpop-svc', grantTypes: ['client_credentials'], scopes: ['read'] });
    svc = { clientId: created.clientId, clientSecret: created.clientSecret! };
    const introspector = await first.createClient({ name: 'dpop-api', grantTypes: ['client_credentials'], introspectFor: [API] });
    rs = { clientId: introspector.clientId, clientSecret: introspector.clientSecret! };
    spa = await first.createClient({ name: 'dpop-spa', grantTypes: ['authorization_code'], public: true, redirectUris: [REDIRECT_URI], scopes: ['openid'] });
    await first.createUser(USER);
    const discovery = await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oidc', ...insecure, [oauth.customFetch]: viaInstance(first, []) });
    as = await oauth.processDiscoveryResponse(new URL(issuer), discovery);
  }, 60_000);

  afterAll(async () => {
    await deployment?.stop();
  });

    test('discovery advertises DPoP', () => {
      expect(as.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));
    });

    test('client_credentials with a proof: a DPoP token bound to the key (cnf.jkt), introspected as DPoP at the other instance; the proof presented again is refused', async () => {
      const keys = await oauth.generateKeyPair('ES256');
      const client: oauth.Client = { client_id: svc.clientId };
      const proofs: string[] = [];
      const DPoP = oauth.DPoP(client, keys);
      const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(svc.clientSecret), { resource: API, scope: 'read' }, {
        DPoP, ...insecure, [oauth.customFetch]: viaInstance(first, proofs),
      });
      const tokens = await oauth.processClientCredentialsResponse(as, client, response);
      expect(tokens.token_type).toBe('dpop');
      const jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey) as JWK);
      expect(decodeJwt(tokens.access_token)).toMatchObject({ cnf: { jkt } });

      const introspection = await introspect(second.url, rs, tokens.access_token);
      expect(introspection).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt }, client_id: svc.clientId });

      // the recorded proof, with the same request, at the other instance
      expect(proofs).toHaveLength(1);
      refusals.length = 0;
      const replay = await rawTokenRequest(second, issuer, new URLSearchParams({ grant_type: 'client_credentials', resource: API, scope: 'read' }).toString(), {
        authorization: basic(svc.clientId, svc.clientSecret), dpop: proofs[0]!,
      });
      expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect(refusals).toEqual(['DPoP proof JWT Replay detected']);
      // the same request with a new proof is fine: the reuse alone was refused
      const again = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(svc.clientSecret), { resource: API, scope: 'read' }, {
        DPoP, ...insecure, [oauth.customFetch]: viaInstance(second, proofs),
      });
      expect((await oauth.processClientCredentialsResponse(as, client, again)).token_type).toBe('dpop');
    });

    test('one proof sent many times at once, to every instance: exactly one token', async () => {
      const keys = await generateKeyPair('ES256');
      const proof = await handMadeProof(keys, `${issuer}/token`);
      const form = new URLSearchParams({ grant_type: 'client_credentials', resource: API, scope: 'read' }).toString();
      const headers = { authorization: basic(svc.clientId, svc.clientSecret), dpop: proof };
      refusals.length = 0;
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => rawTokenRequest(deployment.instances[i % deployment.instances.length]!, issuer, form, headers)));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
      expect(answers.filter((a) => a.status === 400).map((a) => a.body.error)).toEqual(Array(7).fill('invalid_grant'));
      expect(refusals).toEqual(Array(7).fill('DPoP proof JWT Replay detected'));
    });

    test('authorization code flow with DPoP (public client): a bound token works at userinfo with a proof, with a nonce from the other instance; not as a Bearer token; a replayed userinfo proof is refused', async () => {
      const keys = await oauth.generateKeyPair('ES256');
      const client: oauth.Client = { client_id: spa.clientId };
      const DPoP = oauth.DPoP(client, keys);
      const proofs: string[] = [];
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint!);
      for (const [key, value] of Object.entries({
        client_id: spa.clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', state,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
        dpop_jkt: await calculateJwkThumbprint(await exportJWK(keys.publicKey) as JWK),
      })) url.searchParams.set(key, value);
      const { callback } = await driveAuthorization(new BrowserAgent(), url.href, { redirectUri: REDIRECT_URI, user: USER });
      const params = oauth.validateAuthResponse(as, client, callback, state);
      const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, {
        DPoP, ...insecure, [oauth.customFetch]: viaInstance(first, proofs),
      });
      const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
      expect(tokens.token_type).toBe('dpop');
      // the token answer carried a nonce (DPoP-Nonce), which the library keeps for the next proof
      expect(response.headers.get('dpop-nonce')).toBeTruthy();

      const sub = oauth.getValidatedIdTokenClaims(tokens)!.sub;
      const userinfo = await oauth.userInfoRequest(as, client, tokens.access_token, { DPoP, ...insecure, [oauth.customFetch]: viaInstance(second, proofs) });
      expect(await oauth.processUserInfoResponse(as, client, sub, userinfo)).toMatchObject({ sub });
      // first's nonce, accepted at second: the instances share the nonce secret
      expect(proofs).toHaveLength(2);
      expect(decodeJwt(proofs[1]!).nonce).toBe(response.headers.get('dpop-nonce'));

      // the token alone, as a Bearer token: refused (it is bound to the key)
      const bearer = await viaInstance(first, [])(`${issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(bearer.status).toBe(401);
      // the userinfo proof again, with its token, at the other instance
      refusals.length = 0;
      const replay = await viaInstance(first, [])(`${issuer}/me`, { headers: { authorization: `DPoP ${tokens.access_token}`, dpop: proofs[1]! } });
      expect(replay.status).toBe(401);
      expect(replay.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_token"/);
      expect(refusals).toEqual(['DPoP proof JWT Replay detected']);
      // a new proof with the same token still works
      const fresh = await oauth.userInfoRequest(as, client, tokens.access_token, { DPoP, ...insecure, [oauth.customFetch]: viaInstance(first, proofs) });
      expect(await oauth.processUserInfoResponse(as, client, sub, fresh)).toMatchObject({ sub });
    }, 30_000);

    test('nonces: a proof whose iat is not recent is answered use_dpop_nonce with a DPoP-Nonce; that nonce works at the other instance', async () => {
      const keys = await generateKeyPair('ES256');
      const form = new URLSearchParams({ grant_type: 'client_credentials', resource: API, scope: 'read' }).toString();
      const authorization = basic(svc.clientId, svc.clientSecret);
      const stale = await handMadeProof(keys, `${issuer}/token`, { iat: Math.floor(Date.now() / 1000) - 600 });
      const refused = await rawTokenRequest(first, issuer, form, { authorization, dpop: stale });
      expect(refused).toMatchObject({ status: 400, body: { error: 'use_dpop_nonce' } });
      const nonce = refused.headers.get('dpop-nonce');
      expect(nonce).toBeTruthy();
      // a client with a clock far off uses the server's nonce instead of its iat
      const withNonce = await handMadeProof(keys, `${issuer}/token`, { iat: Math.floor(Date.now() / 1000) - 600, nonce: nonce! });
      const accepted = await rawTokenRequest(second, issuer, form, { authorization, dpop: withNonce });
      expect(accepted).toMatchObject({ status: 200, body: { token_type: 'DPoP' } });
      // a nonce the server never issued
      const forged = await handMadeProof(keys, `${issuer}/token`, { nonce: 'not-a-nonce-of-this-server' });
      expect(await rawTokenRequest(second, issuer, form, { authorization, dpop: forged })).toMatchObject({ status: 400, body: { error: 'use_dpop_nonce' } });
    });
  });
}

const redis = await redisUp();
const postgres = await postgresUp();

dpopSuite('one instance, token state in SQL (embedded PGlite)', async () => {
  const server = await startTestServer();
  return { instances: [server], stop: () => server.stop() };
});

describeWithService('Redis', redis)('one instance, token state in Redis', () => {
  dpopSuite('DPoP', async () => {
    const server = await startTestServer({ redis: true });
    return { instances: [server], stop: () => server.stop() };
  });
});

describeWithService('Postgres and Redis', redis && postgres)('two instances sharing Postgres and Redis', () => {
  dpopSuite('DPoP', async () => {
    const pair = await startTwoInstances({ redis: true });
    return { instances: [pair.a, pair.b], stop: () => pair.stop() };
  });
});

describeWithService('Postgres', postgres)('two instances sharing Postgres, token state in SQL', () => {
  dpopSuite('DPoP', async () => {
    const pair = await startTwoInstances({ redis: false });
    return { instances: [pair.a, pair.b], stop: () => pair.stop() };
  });
});
