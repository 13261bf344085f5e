// Issue 11, "done means" 4, on Postgres + Redis: the README's receiver (run
// as written) verifies Tessera's deliveries and refuses a replay older than
// 5 minutes; an event queued while the receiver is down arrives once it is
// back; deliveries are visible in the admin API and the CLI with status and
// attempts; a receiver that never answers slows no token request; two
// instances share the outbox without sending a delivery twice; the signing
// secret appears in no log and in no table. Restarts: webhooks-restart.test.ts.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { freePort } from '../support/process.ts';
import { tokenRequest, type ClientCredentials } from '../support/oauth.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { eventually, startCaptureReceiver, startReadmeReceiver, type CaptureReceiver, type ReadmeReceiver } from '../support/webhook-receivers.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';

const up = (await postgresUp()) && (await redisUp());
const FAST_RETRIES = { allowHttpLoopback: true, retryBaseMs: 200, retryMaxMs: 1000, pollIntervalMs: 100, timeoutMs: 3000 };

describeWithService('Postgres and Redis', up)('signed webhooks on Postgres and Redis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-webhooks-'));
  const schema = `t_webhooks_${randomBytes(6).toString('hex')}`;
  const prefix = `tessera-test:webhooks:${randomBytes(6).toString('hex')}:`;
  const logs: string[] = [];
  const secrets: string[] = [];
  let server: TestServer;
  let token: string;
  const receivers: Array<ReadmeReceiver | CaptureReceiver> = [];

  beforeAll(async () => {
    server = await startTestServer({
      dir, database: 'postgres', schema, redis: true, redisKeyPrefix: prefix, logLevel: 'debug',
      logDestination: { write: (line) => { logs.push(line); } },
      config: { webhooks: FAST_RETRIES },
    });
    token = await adminToken(server);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    for (const receiver of receivers) await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function subscribe(url: string, events: string[]): Promise<{ id: string; secret: string }> {
    const created = await call(server, token, 'POST', '/webhooks', { url, events });
    expect(created.status).toBe(201);
    secrets.push(created.body.secret);
    return created.body;
  }
  const deliveriesOf = async (id: string) => (await call(server, token, 'GET', `/webhooks/${id}/deliveries`)).body.items as Array<Record<string, any>>;
  const createUser = async (username: string) => (await call(server, token, 'POST', '/users', { username, password: 'correct horse battery' })).body as { id: string };

  /** The real CLI in a child process, as an operator runs it. */
  const tessera = (args: string[]) => runTesseraCli(args, adminCliEnv(server));

  test('the README receiver verifies a delivery; a replay signed more than 5 minutes ago and a forged body are refused', async () => {
    const port = await freePort();
    const { id, secret } = await subscribe(`http://127.0.0.1:${port}/`, ['user.created']);
    const receiver = await startReadmeReceiver(port, secret);
    receivers.push(receiver);

    const user = await createUser('hook-ada');
    const [verified] = await eventually(() => receiver.verified().length > 0 && receiver.verified(), 'the README receiver to verify a delivery');
    expect(verified.type).toBe('user.created');
    const delivered = await eventually(async () => (await deliveriesOf(id)).find((d) => d.status === 'delivered'), 'delivered in the log');
    expect(delivered).toMatchObject({ event_id: verified.eventId, attempts: 1, last_status_code: 204 });

    // the same delivery as Tessera made it, replayed by someone who captured it 5 minutes and a second later
    const body = JSON.stringify({ id: verified.eventId, type: 'user.created', time: new Date().toISOString(), subject: user.id, client_id: null, actor: 'x' });
    const post = (t: number, payload: string) => fetch(receiver.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'tessera-event-id': verified.eventId, 'tessera-signature': `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex')}` },
      body: payload,
    });
    const now = Math.floor(Date.now() / 1000);
    expect((await post(now - 301, body)).status).toBe(400);
    // the control: signed now, the same body is accepted (so the refusal above was the timestamp's)
    expect((await post(now, body)).status).toBe(204);
    // a body changed after signing, or a signature with another secret
    const res = await fetch(receiver.url, {
      method: 'POST',
      headers: { 'tessera-signature': `t=${now},v1=${createHmac('sha256', secret).update(`${now}.${body}`).digest('hex')}` },
      body: body.replace('user.created', 'user.deleted'),
    });
    expect(res.status).toBe(400);
    const other = `t=${now},v1=${createHmac('sha256', 'whsec_other').update(`${now}.${body}`).digest('hex')}`;
    expect((await fetch(receiver.url, { method: 'POST', headers: { 'tessera-signature': other }, body })).status).toBe(400);
    expect(receiver.verified()).toHaveLength(2);
  });

  test('an event queued while the receiver is down arrives once it is back; the API and the CLI show status and attempts', async () => {
    const port = await freePort();
    const { id, secret } = await subscribe(`http://127.0.0.1:${port}/down-then-up`, ['user.created']);
    await createUser('hook-bob');
    // down: attempts fail and are retried
    const failing = await eventually(async () => (await deliveriesOf(id)).find((d) => d.status === 'pending' && d.attempts >= 2), 'two failed attempts');
    expect(failing.last_error).toBe('ECONNREFUSED');
    expect(failing.next_attempt_at).not.toBeNull();
    const cliPending = await tessera(['webhooks', 'deliveries', id, '--json']);
    expect(cliPending.code).toBe(0);
    expect(JSON.parse(cliPending.stdout).items[0]).toMatchObject({ id: failing.id, status: 'pending', last_error: 'ECONNREFUSED' });

    // back: the next retry arrives
    const receiver = await startReadmeReceiver(port, secret);
    receivers.push(receiver);
    const [verified] = await eventually(() => receiver.verified().length > 0 && receiver.verified(), 'the delivery once the receiver is back');
    expect(verified).toEqual({ eventId: failing.event_id, type: 'user.created' });
    const delivered = await eventually(async () => (await deliveriesOf(id)).find((d) => d.status === 'delivered'), 'delivered in the log');
    expect(delivered.attempts).toBeGreaterThanOrEqual(3);

    const cli = await tessera(['webhooks', 'deliveries', id, '--json']);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).items).toEqual([expect.objectContaining({ id: failing.id, status: 'delivered', attempts: delivered.attempts, last_status_code: 204 })]);
    const human = await tessera(['webhooks', 'deliveries', id]);
    expect(human.stdout).toMatch(/delivered/);
    const list = await tessera(['webhooks', 'list', '--json']);
    expect(JSON.parse(list.stdout).items.map((w: { id: string }) => w.id)).toContain(id);
    expect(list.stdout).not.toContain(secret);
  });

  test('a receiver that never answers slows no token request: they complete while its deliveries hang', async () => {
    const stalled = await startCaptureReceiver();
    receivers.push(stalled);
    stalled.answer(0);
    // token.issued too: once token requests record it, each one queues a delivery here
    const { id } = await subscribe(`${stalled.url}/never`, ['user.created', 'token.issued']);
    await server.services.resources.create({ identifier: 'https://api.hooks.test', scopes: ['read'] });
    const client: ClientCredentials = await server.createClient({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
    for (let i = 0; i < 3; i++) await createUser(`hook-stall-${i}`);
    await eventually(() => stalled.arrivals >= 1, 'a delivery to reach the stalled receiver');

    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await tokenRequest(server.url, { grant_type: 'client_credentials', resource: 'https://api.hooks.test', scope: 'read' }, client));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    // the deliveries were still waiting on the receiver meanwhile: none was delivered
    const log = await deliveriesOf(id);
    expect(log.length).toBeGreaterThanOrEqual(3);
    expect(log.filter((d) => d.status !== 'pending')).toEqual([]);
  });

  test('two instances share the outbox: every delivery arrives, none twice at once', async () => {
    const second = await startTestServer({ dir, database: 'postgres', schema, redis: true, redisKeyPrefix: prefix, config: { issuer: server.issuer, webhooks: FAST_RETRIES } });
    try {
      const capture = await startCaptureReceiver();
      receivers.push(capture);
      const { id } = await subscribe(`${capture.url}/shared`, ['resource.created']);
      for (let i = 0; i < 20; i++) await server.services.audit.record({ type: 'resource.created', actor: 'test', subject: `https://r${i}.test` });
      await eventually(async () => (await deliveriesOf(id)).filter((d) => d.status === 'delivered').length === 20, 'all 20 deliveries');
      const ids = capture.received.map((r) => r.headers['tessera-event-id']);
      expect(ids).toHaveLength(20);
      expect(new Set(ids).size).toBe(20);
    } finally {
      // the schema is shared: the first server drops it
      await second.stop({ keep: true });
    }
  });

  test('the CLI creates (secret printed once), refuses an unknown event type by name, and deletes; both are audited with the actor', async () => {
    const port = await freePort();
    const created = await tessera(['webhooks', 'create', '--url', `http://127.0.0.1:${port}/cli`, '--events', 'user.disabled,grant.revoked', '--json']);
    expect(created.code).toBe(0);
    const webhook = JSON.parse(created.stdout);
    expect(webhook).toMatchObject({ url: `http://127.0.0.1:${port}/cli`, events: ['user.disabled', 'grant.revoked'], secret: expect.stringMatching(/^whsec_/) });
    secrets.push(webhook.secret);

    const unknown = await tessera(['webhooks', 'create', '--url', `http://127.0.0.1:${port}/cli`, '--events', 'user.disabled,user.exploded', '--json']);
    expect(unknown.code).toBe(1);
    const problem = JSON.parse(unknown.stderr);
    expect(problem).toMatchObject({ status: 400, errors: [{ field: 'events.1', message: '"user.exploded" is not an audit event type' }] });

    const deleted = await tessera(['webhooks', 'delete', webhook.id, '--json']);
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.stdout)).toEqual({ id: webhook.id, deleted: true });
    expect((await tessera(['webhooks', 'delete', webhook.id])).code).toBe(1);

    const adminClientId = JSON.parse(readFileSync(join(server.config.keysDir, 'admin-client.json'), 'utf8')).client_id;
    for (const type of ['webhook.created', 'webhook.deleted']) {
      const audit = await tessera(['audit', 'list', '--type', type, '--actor', adminClientId, '--json']);
      const event = JSON.parse(audit.stdout).items.find((e: { subject: string }) => e.subject === webhook.id);
      expect(event).toMatchObject({ type, actor: adminClientId });
      expect(JSON.stringify(event)).not.toContain(webhook.secret);
    }
  });

  test('no signing secret in any log line or any table', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    expect(logs.length).toBeGreaterThan(10);
    const logged = logs.join('\n');
    // the scan sees what it should: a failed delivery was logged, with its error
    expect(logged).toContain('webhook delivery failed');
    for (const secret of secrets) expect(logged.includes(secret)).toBe(false);

    const { rows } = await server.db.knex.raw("select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'") as { rows: Array<{ table_name: string }> };
    expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['webhook_subscriptions', 'webhook_deliveries', 'audit_events']));
    for (const { table_name: table } of rows) {
      const dumped = await server.db.knex.raw('select row_to_json(t)::text as row from ?? t', [table]) as { rows: Array<{ row: string }> };
      const text = dumped.rows.map((r) => r.row).join('\n');
      for (const secret of secrets) {
        expect(text.includes(secret)).toBe(false);
        expect(text.includes(secret.slice('whsec_'.length))).toBe(false);
      }
    }
  });
});
