import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tokenRequest } from '../support/oauth.ts';
import { codeFlow, REDIRECT_URI } from '../tokens/token-flows.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';



describe('tessera admin commands against a running server', () => {
  let server: TestServer;
  let scratch: string;
  beforeAll(async () => {
    server = await startTestServer();
    scratch = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** The real CLI in a child process, as an operator runs it. */
  const tessera = (args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) => runTesseraCli(args, adminCliEnv(server, options.env), options.stdin);

  const signIn = (username: string, password: string) => server.services.verifyCredentials(username, password, { ip: '127.0.0.1' });

  test('users create reads the password from stdin and prints the user as JSON', async () => {
    const run = await tessera(['users', 'create', '--username', 'frank', '--email', 'frank@example.com', '--role', 'staff', '--role', 'ops', '--password-stdin', '--json'], { stdin: 'frank password\n' });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.json).toMatchObject({ username: 'frank', email: 'frank@example.com', roles: ['staff', 'ops'], disabled: false });
    expect(run.stdout).not.toMatch(/hash|argon/);
    expect(await signIn('frank', 'frank password')).toMatchObject({ ok: true });
  });

  test('without --password-stdin there is no user: the password never comes from argv', async () => {
    const run = await tessera(['users', 'create', '--username', 'gina', '--password', 'in clear']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown option --password; did you mean --password-stdin\?/);
    const again = await tessera(['users', 'create', '--username', 'gina'], { stdin: 'whatever password' });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/--password-stdin is required/);
    expect(await server.services.accounts.findByUsername('gina')).toBeUndefined();
  });

  test('an error of the API goes to stderr with a non-zero exit', async () => {
    const run = await tessera(['users', 'create', '--username', 'frank', '--password-stdin'], { stdin: 'another password' });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/Conflict/);
    expect(run.stderr).toMatch(/username: is already taken/);
    const json = await tessera(['users', 'create', '--username', 'x y', '--password-stdin', '--json'], { stdin: 'long enough password' });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toMatchObject({ status: 400, errors: [{ field: 'username' }] });
  });

  test('users create refuses a username that looks like an existing one, naming the field', async () => {
    expect((await tessera(['users', 'create', '--username', 'olga', '--password-stdin'], { stdin: 'olga password' })).code).toBe(0);
    const run = await tessera(['users', 'create', '--username', '0lga', '--password-stdin'], { stdin: 'another password' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/username: looks like an existing username/);
    expect(await server.services.accounts.findByUsername('0lga')).toBeUndefined();
  });

  test('resources create', async () => {
    const run = await tessera(['resources', 'create', '--identifier', 'https://ledger.example', '--name', 'Ledger', '--scopes', 'ledger:read ledger:write', '--token-format', 'jwt', '--access-token-ttl', '900', '--json']);
    expect(run.code).toBe(0);
    expect(run.json).toMatchObject({ identifier: 'https://ledger.example', name: 'Ledger', scopes: ['ledger:read', 'ledger:write'], token_format: 'jwt', access_token_ttl: 900 });
    const bad = await tessera(['resources', 'create', '--identifier', 'https://x.example', '--scopes', 'a', '--access-token-ttl', 'soon']);
    expect(bad.code).toBe(2);
  });

  test('resources create|update --dynamic-clients opens a resource to clients nobody registered by hand; absent: closed', async () => {
    const closed = await tessera(['resources', 'create', '--identifier', 'https://notes.example', '--scopes', 'notes:read', '--json']);
    expect(closed.json).toMatchObject({ dynamic_clients: false });
    const open = await tessera(['resources', 'create', '--identifier', 'https://wiki.example', '--scopes', 'wiki:read', '--dynamic-clients']);
    expect(open.stdout).toMatch(/open to dynamic clients/);
    expect((await server.services.resources.offer()).dynamicClientScopes).toEqual(new Set(['wiki:read']));

    expect((await tessera(['resources', 'update', 'https://notes.example', '--dynamic-clients', '--json'])).json).toMatchObject({ dynamic_clients: true });
    expect((await tessera(['resources', 'update', 'https://wiki.example', '--no-dynamic-clients', '--json'])).json).toMatchObject({ dynamic_clients: false });
    const offer = await server.services.resources.offer();
    expect(offer.dynamicClientResources).toEqual(new Set(['https://notes.example']));
    expect(offer.dynamicClientScopes).toEqual(new Set(['notes:read']));
    expect((await tessera(['resources', 'update', 'https://notes.example', '--dynamic-clients', '--no-dynamic-clients'])).code).toBe(2);
  });

  test('clients create prints client_id and client_secret, which work', async () => {
    const run = await tessera(['clients', 'create', '--name', 'ledger sync', '--grant-types', 'client_credentials', '--scopes', 'ledger:read', '--introspect-for', 'https://ledger.example', '--json']);
    expect(run.code).toBe(0);
    expect(run.json).toMatchObject({ name: 'ledger sync', grant_types: ['client_credentials'], scopes: ['ledger:read'], introspect_for: ['https://ledger.example'] });
    const { client_id: clientId, client_secret: clientSecret } = run.json;
    const res = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: 'https://ledger.example', scope: 'ledger:read' }, { clientId, clientSecret });
    expect(res.status).toBe(200);

    const human = await tessera(['clients', 'create', '--name', 'web', '--grant-types', 'authorization_code,refresh_token', '--redirect-uris', 'https://web.example/cb', '--public', '--first-party']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^client_id: \S+$/m);
    expect(human.stdout).not.toMatch(/client_secret/);
  });

  test('grants list and revoke, by user and by client', async () => {
    const { id: accountId } = (await server.services.accounts.findByUsername('frank'))!;
    const { clientId } = await server.createClient({ name: 'app', grantTypes: ['client_credentials'] });
    const grant = new server.provider.Grant({ accountId, clientId });
    grant.addOIDCScope('openid email');
    const grantId = await grant.save();

    const byUser = await tessera(['grants', 'list', '--user', 'frank', '--json']);
    expect(byUser.code).toBe(0);
    expect(byUser.json.items).toEqual([expect.objectContaining({ id: grantId, client_id: clientId, account_id: accountId, scopes: ['openid', 'email'] })]);
    const byClient = await tessera(['grants', 'list', '--client', clientId, '--json']);
    expect(byClient.json.items.map((g: { id: string }) => g.id)).toEqual([grantId]);
    expect((await tessera(['grants', 'list'])).code).toBe(2);

    const revoked = await tessera(['grants', 'revoke', '--user', 'frank', '--json']);
    expect(revoked.json).toMatchObject({ revoked_grants: 1 });
    expect(await server.provider.Grant.find(grantId)).toBeUndefined();
  });

  test('sessions list and end, by id and by user; clients create --backchannel-logout-uri', async () => {
    const created = await tessera(['clients', 'create', '--name', 'rp', '--grant-types', 'authorization_code', '--redirect-uris', REDIRECT_URI,
      '--scopes', 'openid', '--backchannel-logout-uri', 'https://rp.example/backchannel', '--json']);
    expect(created.code).toBe(0);
    expect(created.json).toMatchObject({ backchannel_logout_uri: 'https://rp.example/backchannel', backchannel_logout_session_required: true });
    const refused = await tessera(['clients', 'create', '--name', 'rp', '--grant-types', 'authorization_code', '--redirect-uris', REDIRECT_URI,
      '--backchannel-logout-uri', 'http://rp.example/backchannel']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/backchannel_logout_uri: must be an https URL/);

    const rp = { clientId: created.json.client_id, clientSecret: created.json.client_secret };
    const user = { username: 'sara', password: 'sara has a long password' };
    await server.createUser(user);
    await codeFlow({ baseUrl: server.url, client: rp, user, scope: 'openid' });
    await codeFlow({ baseUrl: server.url, client: rp, user, scope: 'openid' });

    const listed = await tessera(['sessions', 'list', '--user', 'sara', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.json.items).toHaveLength(2);
    expect(listed.json.items[0]).toMatchObject({ ip: '127.0.0.1', clients: [{ client_id: rp.clientId, name: 'rp' }] });
    const human = await tessera(['sessions', 'list', '--user', 'sara']);
    expect(human.stdout).toMatch(/^SESSION\s+DEVICE\s+ADDRESS/m);
    expect(human.stdout).toMatch(/2 session\(s\)/);

    const one = await tessera(['sessions', 'end', listed.json.items[0].id, '--json']);
    expect(one.json).toEqual({ id: listed.json.items[0].id, ended: true });
    expect((await tessera(['sessions', 'end', listed.json.items[0].id])).code).toBe(1);
    const all = await tessera(['sessions', 'end', '--user', 'sara', '--json']);
    expect(all.json).toMatchObject({ ended_sessions: 1 });
    expect((await tessera(['sessions', 'list', '--user', 'sara', '--json'])).json.items).toEqual([]);
    expect((await tessera(['sessions', 'end'])).code).toBe(2);
    expect((await tessera(['sessions', 'end', 'x', '--user', 'sara'])).code).toBe(2);
    expect((await tessera(['sessions', 'list'])).code).toBe(2);
  });

  test('users disable, tokens revoke, keys list, audit list', async () => {
    const disabled = await tessera(['users', 'disable', 'frank', '--json']);
    expect(disabled.json).toMatchObject({ user: { username: 'frank', disabled: true } });
    expect(await signIn('frank', 'frank password')).toMatchObject({ ok: false });

    const token = await tessera(['tokens', 'revoke', 'some-jti', '--json']);
    expect(token.json).toMatchObject({ jti: 'some-jti', revoked: true });
    expect(await server.tokenState.denylist.has('some-jti')).toBe(true);

    const keys = await tessera(['keys', 'list', '--json']);
    expect(keys.json.items.map((k: { alg: string }) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(keys.json.items.map((k: { status: string }) => k.status)).toEqual(['current', 'current']);
    // staged rotation on KEYS_DIR: stage, activate, retire (which has nothing to do yet)
    const stage = await tessera(['keys', 'rotate', '--json']);
    expect(stage.code).toBe(0);
    expect(stage.json.changed.map((k: { alg: string; status: string }) => [k.alg, k.status]).sort()).toEqual([['ES256', 'next'], ['RS256', 'next']]);
    const again = await tessera(['keys', 'rotate']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already staged.*keys rotate --activate/);
    const activated = await tessera(['keys', 'rotate', '--activate', '--json']);
    expect(activated.code).toBe(0);
    expect(activated.json.keys.map((k: { status: string }) => k.status)).toEqual(['current', 'current', 'previous', 'previous']);
    // kept for the longest token lifetime of the configuration (a resource server's up to a day)
    const retireAfter = Date.parse(activated.json.keys[2].retire_after);
    expect(Math.abs(retireAfter - (Date.now() + 86_400_000))).toBeLessThan(60_000);
    const retire = await tessera(['keys', 'retire']);
    expect(retire.code).toBe(0);
    expect(retire.stdout).toMatch(/no key to retire/);
    // the running server is unchanged until it restarts
    expect((await tessera(['keys', 'list', '--json'])).json).toEqual(keys.json);

    // sign-ins are recorded too (written in batches: flushed here so the list is complete)
    await server.services.audit.flush();
    const audit = await tessera(['audit', 'list', '--subject', 'frank', '--json']);
    expect(audit.json.items.map((e: { type: string }) => e.type)).toEqual(['signin.failed', 'user.disabled', 'grants.revoked', 'signin.succeeded', 'user.created']);
    expect(audit.json.items[0].details).toMatchObject({ reason: 'disabled' });
    const adminActions = await tessera(['audit', 'list', '--subject', 'frank', '--type', 'user.created,user.disabled,grants.revoked', '--json']);
    expect(adminActions.json.items.map((e: { type: string }) => e.type)).toEqual(['user.disabled', 'grants.revoked', 'user.created']);
    const since = await tessera(['audit', 'list', '--type', 'token.revoked', '--since', '2000-01-01T00:00:00Z', '--json']);
    expect(since.json.items).toHaveLength(1);
  });

  test('users import FILE: JSON lines, results by line number', async () => {
    const file = join(scratch, 'users.jsonl');
    writeFileSync(file, [
      JSON.stringify({ username: 'hank', email: 'hank@example.com', password_hash: bcrypt.hashSync('hank password', 4), roles: ['staff'] }),
      '',
      'this is not JSON',
      JSON.stringify({ username: 'ivy', password_hash: 'plain text' }),
    ].join('\n'));
    const run = await tessera(['users', 'import', file, '--json']);
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ imported: 1, failed: 2 });
    expect(run.json.results).toEqual([
      expect.objectContaining({ line: 1, username: 'hank', status: 'imported' }),
      expect.objectContaining({ line: 3, status: 'invalid' }),
      expect.objectContaining({ line: 4, username: 'ivy', status: 'invalid' }),
    ]);
    expect(await signIn('hank', 'hank password')).toMatchObject({ ok: true });
  });

  test('users import: an unsupported hash format is named with its line and the accepted formats, never a regular expression', async () => {
    const file = join(scratch, 'hashes.jsonl');
    writeFileSync(file, [
      JSON.stringify({ username: 'md5-user', password_hash: '$1$saltsalt$Zw2mZ4bSrHt0pQwX8k2Ia/' }),
      JSON.stringify({ username: 'pbkdf2-user', password_hash: '$pbkdf2-sha256$29000$N2bMGWMM$Xy0D1bXR3IPrYkc9S2lRFgEhwDk' }),
      JSON.stringify({ username: 'argon2i-user', password_hash: '$argon2i$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo' }),
      JSON.stringify({ username: 'plain-user', password_hash: 'hunter2' }),
      JSON.stringify({ username: 'no-hash-user' }),
    ].join('\n'));
    const run = await tessera(['users', 'import', file]);
    expect(run.code).toBe(1);
    const accepted = 'password_hash is not a supported password hash: give an argon2id hash ($argon2id$...) or a bcrypt hash ($2a$, $2b$ or $2y$...)';
    expect(run.stdout.split('\n')).toEqual([
      `line 1 (md5-user): invalid: ${accepted}`,
      `line 2 (pbkdf2-user): invalid: ${accepted}`,
      `line 3 (argon2i-user): invalid: ${accepted}`,
      `line 4 (plain-user): invalid: ${accepted}`,
      'line 5 (no-hash-user): invalid: password_hash is required',
      'imported 0, failed 5',
      '',
    ]);
    expect(run.stdout).not.toMatch(/pattern|\\x21|\^/);
  });

  test('a large import is sent in batches under the body limit; an oversized line is reported alone', async () => {
    const hash = bcrypt.hashSync('bulk password', 4);
    const lines = Array.from({ length: 450 }, (_, i) => JSON.stringify({ username: `bulk-${i}`, email: `bulk-${i}@example.com`, password_hash: hash, roles: ['bulk'] }));
    lines.splice(100, 0, JSON.stringify({ username: 'huge', password_hash: hash, roles: Array.from({ length: 2000 }, (_, i) => `role-${i}-${'x'.repeat(30)}`) }));
    const file = join(scratch, 'bulk.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const run = await tessera(['users', 'import', file, '--json']);
    expect(run.json).toMatchObject({ imported: 450, failed: 1 });
    expect(run.json.results.find((r: { status: string }) => r.status !== 'imported')).toMatchObject({ line: 101, status: 'invalid' });
    expect(await signIn('bulk-449', 'bulk password')).toMatchObject({ ok: true });
  });

  test('credentials from TESSERA_ADMIN_CLIENT_ID/SECRET; a clear error without any', async () => {
    const credentials = JSON.parse(readFileSync(join(server.config.keysDir, 'admin-client.json'), 'utf8'));
    const fromEnv = await tessera(['keys', 'list', '--json'], {
      env: { KEYS_DIR: scratch, TESSERA_ADMIN_CLIENT_ID: credentials.client_id, TESSERA_ADMIN_CLIENT_SECRET: credentials.client_secret },
    });
    expect(fromEnv.code).toBe(0);
    const none = await tessera(['keys', 'list'], { env: { KEYS_DIR: scratch } });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no admin credentials/);
    const wrong = await tessera(['keys', 'list'], { env: { KEYS_DIR: scratch, TESSERA_ADMIN_CLIENT_ID: credentials.client_id, TESSERA_ADMIN_CLIENT_SECRET: 'wrong' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/admin credentials were refused/);
  });
});
