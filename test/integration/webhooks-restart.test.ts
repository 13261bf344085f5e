// Issue 11, "done means" 4: a delivery still pending when Tessera stops (its
// receiver was down) arrives after a restart on the same database — the
// outbox is in SQL, on Postgres and on embedded PGlite files under DATA_DIR.
import { describe, test, expect } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer, type TestServerOptions } from '../support/server.ts';
import { describeWithService, postgresUp } from '../support/services.ts';
import { freePort } from '../support/process.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { eventually, startCaptureReceiver, startReadmeReceiver, type ReadmeReceiver } from '../support/webhook-receivers.ts';

// quick retries; between the two servers no process holds the delivery but the database
const WEBHOOKS = { allowHttpLoopback: true, retryBaseMs: 200, retryMaxMs: 1000, pollIntervalMs: 100, timeoutMs: 3000 };

async function pendingDeliverySurvivesRestart(options: TestServerOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-webhook-restart-'));
  const port = await freePort();
  const receiverPort = await freePort();
  let server: TestServer | undefined = await startTestServer({ ...options, dir, port, config: { webhooks: WEBHOOKS } });
  const schema = server.schema;
  let receiver: ReadmeReceiver | undefined;
  try {
    let token = await adminToken(server);
    const created = await call(server, token, 'POST', '/webhooks', { url: `http://127.0.0.1:${receiverPort}/hook`, events: ['user.created'] });
    expect(created.status).toBe(201);
    const { id, secret } = created.body;
    await call(server, token, 'POST', '/users', { username: 'restart-ada', password: 'correct horse battery' });
    const pending = await eventually(async () => {
      const items = (await call(server!, token, 'GET', `/webhooks/${id}/deliveries`)).body.items;
      return items.find((d: { status: string; attempts: number }) => d.status === 'pending' && d.attempts >= 1);
    }, 'a failed first attempt');

    await server.stop({ keep: true });
    server = undefined;
    receiver = await startReadmeReceiver(receiverPort, secret);

    server = await startTestServer({ ...options, dir, port, schema, config: { webhooks: WEBHOOKS } });
    const [verified] = await eventually(() => receiver!.verified().length > 0 && receiver!.verified(), 'the delivery after the restart');
    expect(verified).toEqual({ eventId: pending.event_id, type: 'user.created' });
    token = await adminToken(server);
    const delivered = await eventually(async () => {
      const items = (await call(server!, token, 'GET', `/webhooks/${id}/deliveries`)).body.items;
      return items.find((d: { status: string }) => d.status === 'delivered');
    }, 'delivered in the log');
    expect(delivered).toMatchObject({ id: pending.id, last_status_code: 204 });
    expect(receiver.verified()).toHaveLength(1);
  } finally {
    await server?.stop();
    await receiver?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('webhook outbox across a restart', () => {
  test('embedded PGlite (files under DATA_DIR)', async () => {
    await pendingDeliverySurvivesRestart({ database: 'file' });
  }, 120_000);
});

describeWithService('Postgres', await postgresUp())('webhook outbox across a restart on Postgres', () => {
  test('Postgres (DATABASE_URL)', async () => {
    await pendingDeliverySurvivesRestart({ database: 'postgres' });
  }, 120_000);
});

describe('an instance with another webhook key', () => {
  test('cannot open the sealed secret: its attempts fail, naming the key file, and nothing unsigned is sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-webhook-key-'));
    const receiver = await startCaptureReceiver();
    const webhooks = { ...WEBHOOKS, maxAttempts: 1 };
    let server: TestServer | undefined = await startTestServer({ database: 'file', dir, config: { webhooks } });
    try {
      let token = await adminToken(server);
      const created = await call(server, token, 'POST', '/webhooks', { url: `${receiver.url}/hook`, events: ['user.created'] });
      await server.stop({ keep: true });
      server = undefined;
      // another instance's key file (or a lost one, generated again)
      writeFileSync(join(dir, 'keys', 'webhook-key.json'), JSON.stringify({ webhookKey: randomBytes(32).toString('base64url') }));
      server = await startTestServer({ database: 'file', dir, config: { webhooks } });
      token = await adminToken(server);
      await call(server, token, 'POST', '/users', { username: 'key-ada', password: 'correct horse battery' });
      const failed = await eventually(async () => {
        const items = (await call(server!, token, 'GET', `/webhooks/${created.body.id}/deliveries`)).body.items;
        return items.find((d: { status: string }) => d.status === 'failed');
      }, 'the attempt to fail');
      expect(failed.last_error).toMatch(/webhook-key\.json/);
      expect(receiver.arrivals).toBe(0);
    } finally {
      await server?.stop();
      await receiver.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
