// Issue 2, "done means" 1 and 2: users, clients, sessions and refresh tokens
// survive a restart, on the embedded database (PGlite files under DATA_DIR)
// and on Postgres. The spawned-process variant is test/e2e/serve-process.test.ts.
import { describe, test, expect } from '@jest/globals';
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer, type TestServerOptions } from '../support/server.ts';
import { describeWithService, postgresUp, POSTGRES_URL } from '../support/services.ts';
import { createDatabase } from '../../src/db/index.ts';
import { authorize, tokenRequest } from '../support/oauth.ts';
import { freePort } from '../support/process.ts';

const REDIRECT_URI = 'https://client.example.test/callback';

async function userinfo(baseUrl: string, accessToken: string) {
  const res = await fetch(`${baseUrl}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

/**
 * Creates a user, a third-party client, a session (through the login and
 * consent pages) and tokens; restarts the server on the same data; checks that
 * all of it is still there and still works.
 */
async function restartKeepsEverything(options: TestServerOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-restart-'));
  const port = await freePort();
  let server: TestServer | undefined = await startTestServer({ ...options, dir, port });
  const schema = server.schema;
  try {
    const user = await server.createUser({ username: 'ada', password: 'correct horse battery staple', email: 'ada@example.test' });
    const client = await server.createClient({
      name: 'Notes',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [REDIRECT_URI],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
    });
    const jwksBefore = await (await fetch(`${server.url}/jwks`)).json();

    const first = await authorize({
      baseUrl: server.url,
      clientId: client.clientId,
      redirectUri: REDIRECT_URI,
      scope: 'openid profile offline_access',
      params: { prompt: 'consent' },
      user: { username: 'ada', password: 'correct horse battery staple' },
    });
    expect(first.pages).toEqual(['login', 'consent']);
    const issued = await tokenRequest(server.url, {
      grant_type: 'authorization_code', code: first.code!, redirect_uri: REDIRECT_URI, code_verifier: first.verifier,
    }, client);
    expect(issued.status).toBe(200);
    expect(issued.body.refresh_token).toEqual(expect.any(String));

    await server.stop({ keep: true });
    server = undefined;
    server = await startTestServer({ ...options, dir, port, schema });

    // user and client are still there
    expect((await server.services.accounts.findByUsername('ada'))?.id).toBe(user.id);
    expect((await server.services.clients.find(client.clientId))?.name).toBe('Notes');
    // same signing keys
    expect(await (await fetch(`${server.url}/jwks`)).json()).toEqual(jwksBefore);

    // the access token issued before the restart still works
    const before = await userinfo(server.url, issued.body.access_token!);
    expect(before.status).toBe(200);
    expect(before.body.sub).toBe(user.id);

    // the refresh token issued before the restart still refreshes (and rotates)
    const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token! }, client);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toEqual(expect.any(String));
    expect(refreshed.body.refresh_token).not.toBe(issued.body.refresh_token);
    expect((await userinfo(server.url, refreshed.body.access_token!)).status).toBe(200);

    // the session cookie still signs the user in: no login page, no consent page
    const again = await authorize({
      baseUrl: server.url,
      clientId: client.clientId,
      redirectUri: REDIRECT_URI,
      scope: 'openid profile',
      agent: first.agent,
    });
    expect(again.pages).toEqual([]);
    expect(again.code).toEqual(expect.any(String));
    const second = await tokenRequest(server.url, {
      grant_type: 'authorization_code', code: again.code!, redirect_uri: REDIRECT_URI, code_verifier: again.verifier,
    }, client);
    expect(second.status).toBe(200);
    const idToken = JSON.parse(Buffer.from(second.body.id_token!.split('.')[1], 'base64url').toString());
    expect(idToken.sub).toBe(user.id);
  } finally {
    await server?.stop({ keep: true });
    if (schema) {
      const db = await createDatabase({ databaseUrl: POSTGRES_URL });
      await db.knex.raw('drop schema if exists ?? cascade', [schema]).finally(() => db.close());
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('restart on the embedded database (PGlite files)', () => {
  test('users, clients, sessions, access and refresh tokens survive a restart', async () => {
    await restartKeepsEverything({ database: 'file' });
  });
});

describeWithService('Postgres', await postgresUp())('restart on Postgres (DATABASE_URL)', () => {
  test('users, clients, sessions, access and refresh tokens survive a restart', async () => {
    await restartKeepsEverything({ database: 'postgres' });
  });
});
