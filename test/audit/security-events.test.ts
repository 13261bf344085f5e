import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { authorize, passwordGrant, tokenRequest } from '../support/oauth.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { BrowserAgent, parseForms } from '../support/browser-agent.ts';
import { stageSigningKeys } from '../../src/keys/index.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';

// Done-means 3 of issue 11: every security event leaves an audit event with its
// actor, subject, client and where the request came from (ip, user agent,
// request id), and `tessera audit list` finds it by type, actor and time.
// Against Postgres + Redis (production) and embedded PGlite (the default).

const CALLBACK = 'https://app.example/cb';
const AGENT = 'audit-test-agent/1.0 (security events)';
const ALICE = { username: 'alice', password: 'alice password 1', email: 'alice@example.com' };
const BOB = { username: 'bob', password: 'bob password 1' };
const LOCKOUT = { maxConsecutiveFailures: 3, baseDelaySeconds: 60, maxDelaySeconds: 600, perIpPerMinute: 1000, perIpAndUsernamePerMinute: 1000 };

interface Row { id: string; type: string; actor: string | null; subject: string | null; client_id: string | null; ip: string | null; user_agent: string | null; request_id: string | null; details: Record<string, unknown>; at: Date }

let requestCounter = 0;
const requestId = (label: string) => `audit-${label}-${++requestCounter}-${Date.now()}`;
const traced = (id: string) => ({ 'user-agent': AGENT, 'x-request-id': id });

function suite(name: string, options: { database: 'memory' | 'postgres'; redis?: boolean }) {
  describe(name, () => {
    let server: TestServer;
    let thirdParty: { clientId: string; clientSecret?: string };
    let firstParty: { clientId: string; clientSecret?: string };
    let alice: { id: string };
    let bob: { id: string };
    const started = new Date(Date.now() - 1000);

    beforeAll(async () => {
      server = await startTestServer({ database: options.database, redis: options.redis, config: { lockout: LOCKOUT } });
      thirdParty = await server.createClient({
        name: 'Third party', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CALLBACK],
        scopes: ['openid', 'profile', 'offline_access'],
      } as never);
      firstParty = await server.createClient({
        name: 'First party', grantTypes: ['password', 'client_credentials', 'refresh_token'], firstParty: true,
        scopes: ['openid', 'profile', 'offline_access'],
      } as never);
      alice = await server.createUser(ALICE);
      bob = await server.createUser(BOB);
    });
    afterAll(async () => { await server?.stop(); });

    /** Every row as stored (raw SQL: the columns themselves, not the API's view). */
    async function rows(where: Partial<Record<'type' | 'request_id', string>> = {}): Promise<Row[]> {
      await server.services.audit.flush();
      const found = await server.db.knex('audit_events').where(where).orderBy('id') as Row[];
      return found.map((row) => ({ ...row, id: String(row.id), details: typeof row.details === 'string' ? JSON.parse(row.details) : row.details }));
    }
    const one = async (where: Partial<Record<'type' | 'request_id', string>>) => {
      const found = await rows(where);
      expect(found).toHaveLength(1);
      return found[0];
    };

    test('a sign-in on the pages, consent, the code exchange, a refresh and a refresh-token reuse', async () => {
      const flow = await authorize({ baseUrl: server.url, clientId: thirdParty.clientId, redirectUri: CALLBACK, scope: 'openid profile offline_access', params: { prompt: 'consent' }, user: ALICE });
      expect(flow.pages).toEqual(['login', 'consent']);

      const signin = (await rows({ type: 'signin.succeeded' })).find((row) => row.client_id === thirdParty.clientId)!;
      expect(signin).toMatchObject({ actor: alice.id, subject: alice.id, ip: '127.0.0.1', details: { method: 'pwd', via: 'login_page' } });
      expect(signin.request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(signin.user_agent).toBeTruthy();

      const consent = await one({ type: 'consent.given' });
      expect(consent).toMatchObject({ actor: alice.id, subject: alice.id, client_id: thirdParty.clientId, ip: '127.0.0.1' });
      expect(consent.details).toMatchObject({ scopes: expect.arrayContaining(['openid', 'profile', 'offline_access']) });

      const exchange = requestId('code');
      const tokens = await tokenRequest(server.url, { grant_type: 'authorization_code', code: flow.code!, redirect_uri: CALLBACK, code_verifier: flow.verifier }, thirdParty, traced(exchange));
      expect(tokens.status).toBe(200);
      const issued = await one({ request_id: exchange });
      expect(issued).toMatchObject({
        type: 'token.issued', actor: thirdParty.clientId, subject: alice.id, client_id: thirdParty.clientId, ip: '127.0.0.1', user_agent: AGENT,
        details: { grant_type: 'authorization_code', issued: ['access_token', 'refresh_token', 'id_token'] },
      });
      expect(JSON.stringify(issued)).not.toContain(tokens.body.access_token!);
      expect(JSON.stringify(issued)).not.toContain(tokens.body.refresh_token!);

      const refresh = requestId('refresh');
      const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token! }, thirdParty, traced(refresh));
      expect(refreshed.status).toBe(200);
      expect(await one({ request_id: refresh })).toMatchObject({ type: 'token.issued', subject: alice.id, details: { grant_type: 'refresh_token' } });

      const reuse = requestId('reuse');
      const replayed = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token! }, thirdParty, traced(reuse));
      expect(replayed.body.error).toBe('invalid_grant');
      const detected = await one({ request_id: reuse });
      expect(detected).toMatchObject({ type: 'token.reuse_detected', actor: thirdParty.clientId, subject: alice.id, client_id: thirdParty.clientId, ip: '127.0.0.1', user_agent: AGENT, details: { grant_revoked: true } });
      expect(typeof detected.details.grant_id).toBe('string');
    });

    test('the password grant: success and token issued; a wrong password holds no password; an unknown username is not stored', async () => {
      const ok = requestId('password-ok');
      const answer = await passwordGrant(server.url, firstParty, { username: ALICE.username, password: ALICE.password, scope: 'openid offline_access' }, traced(ok));
      expect(answer.status).toBe(200);
      const [signin, issued] = await rows({ request_id: ok });
      expect(signin).toMatchObject({ type: 'signin.succeeded', actor: alice.id, subject: alice.id, client_id: firstParty.clientId, user_agent: AGENT, details: { via: 'password_grant' } });
      expect(issued).toMatchObject({ type: 'token.issued', subject: alice.id, client_id: firstParty.clientId, details: { grant_type: 'password' } });

      const wrongPassword = 'Tr0ub4dor&3-wrong-for-alice';
      const wrong = requestId('password-wrong');
      expect((await passwordGrant(server.url, firstParty, { username: ALICE.username, password: wrongPassword }, traced(wrong))).body.error).toBe('invalid_grant');
      const failed = await one({ request_id: wrong });
      expect(failed).toMatchObject({ type: 'signin.failed', actor: null, subject: alice.id, client_id: firstParty.clientId, ip: '127.0.0.1', user_agent: AGENT, details: { reason: 'invalid_credentials', via: 'password_grant' } });
      // the whole row, every column
      expect(JSON.stringify(failed)).not.toContain(wrongPassword);

      // people type their password into the username field
      const typedIntoUsername = 'correct-horse-battery-staple';
      const unknown = requestId('password-unknown');
      expect((await passwordGrant(server.url, firstParty, { username: typedIntoUsername, password: 'whatever' }, traced(unknown))).body.error).toBe('invalid_grant');
      expect(await one({ request_id: unknown })).toMatchObject({ type: 'signin.failed', actor: null, subject: null, details: { reason: 'unknown_account' } });
      expect(JSON.stringify(await rows())).not.toContain(typedIntoUsername);
    });

    test('client_credentials: token issued with the client and no subject', async () => {
      const id = requestId('cc');
      expect((await tokenRequest(server.url, { grant_type: 'client_credentials' }, firstParty, traced(id))).status).toBe(200);
      expect(await one({ request_id: id })).toMatchObject({ type: 'token.issued', actor: firstParty.clientId, subject: null, client_id: firstParty.clientId, ip: '127.0.0.1', user_agent: AGENT, details: { grant_type: 'client_credentials' } });
    });

    test('the lockout locks: account.locked, then refused attempts are signin.failed "locked"', async () => {
      const ids: string[] = [];
      for (let i = 0; i < LOCKOUT.maxConsecutiveFailures; i++) {
        const id = requestId('lock');
        ids.push(id);
        await passwordGrant(server.url, firstParty, { username: BOB.username, password: `wrong ${i}` }, traced(id));
      }
      const locked = (await rows({ request_id: ids.at(-1)! })).find((row) => row.type === 'account.locked');
      expect(locked).toMatchObject({ subject: bob.id, client_id: firstParty.clientId, ip: '127.0.0.1', user_agent: AGENT });
      expect(locked!.details.seconds).toBeGreaterThanOrEqual(LOCKOUT.baseDelaySeconds);

      const refused = requestId('refused');
      expect((await passwordGrant(server.url, firstParty, { username: BOB.username, password: BOB.password }, traced(refused))).status).toBe(429);
      expect(await one({ request_id: refused })).toMatchObject({ type: 'signin.failed', subject: null, details: { reason: 'locked' } });
    });

    test('logout at the end_session endpoint: session.ended for the person', async () => {
      const agent = new BrowserAgent();
      const flow = await authorize({ baseUrl: server.url, clientId: thirdParty.clientId, redirectUri: CALLBACK, scope: 'openid', user: ALICE, agent });
      const tokens = await tokenRequest(server.url, { grant_type: 'authorization_code', code: flow.code!, redirect_uri: CALLBACK, code_verifier: flow.verifier }, thirdParty);
      const url = new URL('/session/end', server.url);
      url.searchParams.set('id_token_hint', tokens.body.id_token!);
      const confirm = await agent.follow(url.href);
      const form = parseForms(confirm.response.text).find((f) => f.action.includes('/session/end/confirm'))!;
      const before = (await rows({ type: 'session.ended' })).length;
      await agent.submit(confirm.response, form, { logout: 'yes' }, () => true);
      const ended = await rows({ type: 'session.ended' });
      expect(ended).toHaveLength(before + 1);
      expect(ended.at(-1)).toMatchObject({ actor: alice.id, subject: alice.id, client_id: thirdParty.clientId, ip: '127.0.0.1', details: { via: 'end_session', everywhere: true } });
      expect(ended.at(-1)!.request_id).toBeTruthy();
    });

    test('an admin action is recorded with its actor (the admin client), ip and request id', async () => {
      const token = await adminToken(server);
      const id = requestId('admin');
      const created = await call(server, token, 'POST', '/users', { username: 'carol', password: 'carol password 1', email: 'carol@example.com' }, traced(id));
      expect(created.status).toBe(201);
      const event = await one({ request_id: id });
      expect(event).toMatchObject({ type: 'user.created', subject: created.body.id, ip: '127.0.0.1', user_agent: AGENT });
      expect(event.actor).toMatch(/admin/);
      // e-mail addresses are masked
      expect(JSON.stringify(event)).not.toContain('carol@example.com');
      expect(event.details.email).toBe('c***@example.com');
    });

    test('the signing keys in use are recorded at start, once', async () => {
      const keys = await rows({ type: 'keys.rotated' });
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatchObject({ actor: 'configuration', ip: null, request_id: null, details: { initial: true } });
      expect(keys[0].details.keys).toEqual(expect.arrayContaining([expect.stringMatching(/ RS256 current$/), expect.stringMatching(/ ES256 current$/)]));
    });

    test('`tessera audit list` finds events by type, actor and time; `audit export` writes JSON lines', async () => {
      await server.services.audit.flush();
      const run = (args: string[]) => runTesseraCli(args, adminCliEnv(server));
      const listed = await run(['audit', 'list', '--type', 'token.issued,token.reuse_detected', '--actor', thirdParty.clientId, '--since', started.toISOString(), '--until', new Date(Date.now() + 60_000).toISOString(), '--json']);
      expect(listed.stderr).toBe('');
      expect(listed.code).toBe(0);
      const page = JSON.parse(listed.stdout) as { items: Array<{ type: string; actor: string; ip: string; request_id: string; user_agent: string }> };
      expect(page.items.map((e) => e.type).sort()).toEqual(['token.issued', 'token.issued', 'token.issued', 'token.reuse_detected']);
      expect(page.items.every((e) => e.actor === thirdParty.clientId && e.ip === '127.0.0.1' && e.request_id)).toBe(true);

      const none = await run(['audit', 'list', '--type', 'token.issued', '--until', started.toISOString(), '--json']);
      expect(JSON.parse(none.stdout).items).toEqual([]);

      const exported = await run(['audit', 'export', '--client', firstParty.clientId, '--type', 'signin.failed']);
      expect(exported.code).toBe(0);
      const lines = exported.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
      expect(lines.length).toBeGreaterThanOrEqual(4);
      expect(lines.every((e) => e.type === 'signin.failed' && e.client_id === firstParty.clientId)).toBe(true);
    }, 30_000);
  });
}

suite('security events in the audit trail (embedded PGlite)', { database: 'memory' });

const servicesUp = (await postgresUp()) && (await redisUp());
describeWithService('Postgres and Redis', servicesUp)('on Postgres + Redis', () => {
  suite('security events in the audit trail (Postgres + Redis)', { database: 'postgres', redis: true });

  test('a restart with staged keys records keys.rotated once, naming the added keys', async () => {
    const first = await startTestServer({ database: 'postgres' });
    let second: TestServer | undefined;
    try {
      await first.stop({ keep: true });
      const staged = await stageSigningKeys(first.config.keysDir);
      second = await startTestServer({ database: 'postgres', schema: first.schema, dir: first.dir, port: first.config.port });
      const third = await startTestServer({ database: 'postgres', schema: first.schema, dir: first.dir });
      await third.stop({ keep: true });
      const events = await second.db.knex('audit_events').where({ type: 'keys.rotated' }).orderBy('id');
      expect(events).toHaveLength(2);
      const details = typeof events[1].details === 'string' ? JSON.parse(events[1].details) : events[1].details;
      expect(details).toMatchObject({ initial: false, removed: [] });
      expect([...details.added].sort()).toEqual(staged.changed.map((k) => k.kid).sort());
    } finally {
      await second?.stop();
    }
  }, 60_000);
});
