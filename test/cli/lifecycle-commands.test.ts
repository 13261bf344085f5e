import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tokenRequest } from '../support/oauth.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';

// The CLI commands of issue 11 that change what exists: users update, enable,
// delete, set-password; clients update, rotate-secret, disable, enable;
// resources update. The real CLI in a child process, against a real server.
const API = 'https://api.cli-lifecycle.test';


describe('tessera users|clients|resources lifecycle commands', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await server.services.resources.create({ identifier: API, scopes: ['read', 'write'] });
  });
  afterAll(async () => { await server?.stop(); });

  const tessera = (args: string[], options: { stdin?: string } = {}) => runTesseraCli(args, adminCliEnv(server), options.stdin);

  const signIn = (username: string, password: string) => server.services.verifyCredentials(username, password, { ip: '127.0.0.1' });

  test('users update, disable, enable, set-password --password-stdin, delete', async () => {
    const { id } = await server.createUser({ username: 'cli-hana', password: 'the first passphrase', email: 'hana@example.com' });
    const updated = await tessera(['users', 'update', 'cli-hana', '--name', 'Hana', '--role', 'staff,ops', '--email', '', '--json']);
    expect(updated.stderr).toBe('');
    expect(updated.json).toMatchObject({ id, name: 'Hana', roles: ['staff', 'ops'], email: null });
    expect((await tessera(['users', 'update', 'cli-hana'])).code).toBe(2);

    expect((await tessera(['users', 'disable', 'cli-hana', '--json'])).json).toMatchObject({ user: { disabled: true }, ended_sessions: 0 });
    expect((await tessera(['users', 'enable', 'cli-hana', '--json'])).json).toMatchObject({ disabled: false });

    // never from argv
    const argv = await tessera(['users', 'set-password', 'cli-hana', '--password', 'in clear']);
    expect(argv.code).toBe(2);
    expect((await tessera(['users', 'set-password', 'cli-hana'], { stdin: 'whatever passphrase' })).code).toBe(2);
    const set = await tessera(['users', 'set-password', 'cli-hana', '--password-stdin'], { stdin: 'the second passphrase\n' });
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/set the password of cli-hana; revoked 0 grant\(s\), ended 0 session\(s\)/);
    expect(set.stdout).not.toMatch(/second passphrase/);
    expect(await signIn('cli-hana', 'the second passphrase')).toMatchObject({ ok: true });
    expect(await signIn('cli-hana', 'the first passphrase')).toMatchObject({ ok: false });

    // stdin is not a terminal: nothing is asked
    const deleted = await tessera(['users', 'delete', 'cli-hana', '--json']);
    expect(deleted.json).toMatchObject({ id, deleted: true });
    const again = await tessera(['users', 'show', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no such user/);
  });

  test('clients update (a list replaced or emptied), rotate-secret with --grace, disable, enable', async () => {
    const client = await server.createClient({ name: 'cli job', grantTypes: ['client_credentials'], scopes: ['read'] });
    const updated = await tessera(['clients', 'update', client.clientId, '--name', 'renamed job', '--scopes', 'read write', '--introspect-for', API, '--json']);
    expect(updated.stderr).toBe('');
    expect(updated.json).toMatchObject({ name: 'renamed job', scopes: ['read', 'write'], introspect_for: [API] });
    expect((await tessera(['clients', 'update', client.clientId, '--introspect-for', '', '--json'])).json).toMatchObject({ introspect_for: [] });
    const refused = await tessera(['clients', 'update', client.clientId, '--scopes', 'nonexistent']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/scopes: "nonexistent" is offered by no resource server/);
    expect((await tessera(['clients', 'update', client.clientId, '--first-party', '--json'])).json).toMatchObject({ first_party: true });
    expect((await tessera(['clients', 'update', client.clientId, '--third-party', '--json'])).json).toMatchObject({ first_party: false });
    expect((await tessera(['clients', 'update', client.clientId, '--backchannel-logout-uri', 'https://job.example.test/logout', '--json'])).json)
      .toMatchObject({ backchannel_logout_uri: 'https://job.example.test/logout', backchannel_logout_session_required: true });
    expect((await tessera(['clients', 'update', client.clientId, '--backchannel-logout-uri', '', '--json'])).json).toMatchObject({ backchannel_logout_uri: null });
    expect((await tessera(['clients', 'update', client.clientId, '--first-party', '--third-party'])).code).toBe(2);
    // a second factor required: set, taken away again, never both at once
    expect((await tessera(['clients', 'update', client.clientId, '--require-mfa', '--json'])).json).toMatchObject({ require_mfa: true });
    expect((await tessera(['clients', 'update', client.clientId, '--no-require-mfa', '--json'])).json).toMatchObject({ require_mfa: false });
    expect((await tessera(['clients', 'update', client.clientId, '--require-mfa', '--no-require-mfa'])).code).toBe(2);

    const rotated = await tessera(['clients', 'rotate-secret', client.clientId, '--grace', '600']);
    expect(rotated.code).toBe(0);
    const secret = /client_secret: (\S+)/.exec(rotated.stdout)![1];
    expect(rotated.stdout).toMatch(/the old secret works until /);
    const request = (clientSecret: string) => tokenRequest(server.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, { clientId: client.clientId, clientSecret });
    expect((await request(secret)).status).toBe(200);
    expect((await request(client.clientSecret!)).status).toBe(200);
    expect((await tessera(['clients', 'rotate-secret', client.clientId, '--grace', 'soon'])).code).toBe(2);

    const now = await tessera(['clients', 'rotate-secret', client.clientId, '--json']);
    expect(now.json).toMatchObject({ client_id: client.clientId, previous_secret_expires_at: null });
    expect((await request(secret)).status).toBe(401);
    const current = now.json.client_secret as string;

    expect((await tessera(['clients', 'disable', client.clientId, '--json'])).json).toMatchObject({ client: { disabled: true } });
    expect((await request(current)).status).toBe(401);
    expect((await tessera(['clients', 'enable', client.clientId])).stdout).toMatch(/enabled client/);
    expect((await request(current)).status).toBe(200);
  });

  test('resources update', async () => {
    const updated = await tessera(['resources', 'update', API, '--name', 'CLI API', '--access-token-ttl', '900', '--json']);
    expect(updated.stderr).toBe('');
    expect(updated.json).toMatchObject({ identifier: API, name: 'CLI API', access_token_ttl: 900, scopes: ['read', 'write'] });
    const reserved = await tessera(['resources', 'update', API, '--scopes', 'openid']);
    expect(reserved.code).toBe(1);
    expect(reserved.stderr).toMatch(/reserved/);
    expect((await tessera(['resources', 'update', API])).code).toBe(2);
  });
});
