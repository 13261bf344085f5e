// Signed event webhooks, one process on embedded PGlite: the signature and
// the thin payload as documented, the destination policy, redirects not
// followed, retries up to a bound, then `failed`, and redelivery; an https
// receiver whose certificate a private CA (WEBHOOKS_CA_FILE) signed.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createTestCertificates, type TestCertificates } from '../support/test-certificates.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { eventually, startCaptureReceiver, type CaptureReceiver } from '../support/webhook-receivers.ts';
import { refusedUrl, retryDelay, signatureHeader } from '../../src/audit/index.ts';
import { seal, unseal } from '../../src/crypto/index.ts';
import { readAdminCredentials } from '../../src/admin/index.ts';

describe('webhook building blocks', () => {
  test('backoff doubles per attempt, with jitter between half and all of it, and never exceeds the bound', () => {
    expect(retryDelay(1, 1000, 60_000, () => 0)).toBe(500);
    expect(retryDelay(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(retryDelay(3, 1000, 60_000, () => 1)).toBe(4000);
    expect(retryDelay(40, 1000, 60_000, () => 1)).toBe(60_000);
    for (let attempt = 1; attempt < 20; attempt++) {
      const delay = retryDelay(attempt, 1000, 60_000);
      expect(delay).toBeGreaterThanOrEqual(Math.min(60_000, 1000 * 2 ** (attempt - 1)) / 2);
      expect(delay).toBeLessThanOrEqual(60_000);
    }
  });

  test('absent means nothing: https to public addresses only, unless the operator widens it', () => {
    const closed = { allowHttpLoopback: false, allowPrivateNetworks: false };
    expect(refusedUrl('https://hooks.example.com/tessera?k=1', closed)).toBeUndefined();
    expect(refusedUrl('https://93.184.215.14/x', closed)).toBeUndefined();
    expect(refusedUrl('http://hooks.example.com/', closed)).toMatch(/https/);
    for (const url of ['https://127.0.0.1/', 'https://[::1]/', 'https://localhost/', 'http://127.0.0.1:9/', 'https://app.localhost/']) {
      expect(refusedUrl(url, closed)).toMatch(/loopback/);
    }
    for (const url of ['https://10.1.2.3/', 'https://172.16.0.1/', 'https://192.168.1.1/', 'https://100.64.0.1/', 'https://[fd00::1]/']) {
      expect(refusedUrl(url, closed)).toMatch(/private/);
    }
    // never, whatever the settings: cloud metadata, the unspecified address, IPv4 smuggled in IPv6
    const open = { allowHttpLoopback: true, allowPrivateNetworks: true };
    for (const url of ['https://169.254.169.254/latest/meta-data', 'https://0.0.0.0/', 'https://[::ffff:127.0.0.1]/', 'https://[::ffff:a9fe:a9fe]/', 'https://[fe80::1]/', 'https://[64:ff9b::a9fe:a9fe]/', 'https://224.0.0.1/']) {
      expect(refusedUrl(url, open)).toMatch(/link-local|reserved|special/);
    }
    expect(refusedUrl('https://user:pw@hooks.example.com/', open)).toMatch(/credentials/);
    expect(refusedUrl('ftp://hooks.example.com/', open)).toMatch(/https/);
    // the development setting opens loopback (http too), private networks stay closed
    const development = { allowHttpLoopback: true, allowPrivateNetworks: false };
    expect(refusedUrl('http://127.0.0.1:8080/hook', development)).toBeUndefined();
    expect(refusedUrl('http://localhost:8080/hook', development)).toBeUndefined();
    expect(refusedUrl('http://10.0.0.1/hook', development)).toMatch(/private/);
    expect(refusedUrl('http://hooks.example.com/', development)).toMatch(/https/);
    expect(refusedUrl('https://10.0.0.1/', { allowHttpLoopback: false, allowPrivateNetworks: true })).toBeUndefined();
    expect(refusedUrl('http://10.0.0.1/', { allowHttpLoopback: false, allowPrivateNetworks: true })).toMatch(/http/);
  });

  test('a sealed secret opens with its key for its subscription only', () => {
    const key = Buffer.alloc(32, 7);
    const sealed = seal(key, 'whsec_abc', 'sub-1');
    expect(sealed).not.toContain('whsec_abc');
    expect(unseal(key, sealed, 'sub-1')).toBe('whsec_abc');
    expect(() => unseal(key, sealed, 'sub-2')).toThrow();
    expect(() => unseal(Buffer.alloc(32, 8), sealed, 'sub-1')).toThrow();
  });

  test('the signature is HMAC-SHA256 of "<t>.<raw body>", hex, with the secret as key', () => {
    const expected = createHmac('sha256', 'whsec_x').update('1700000000.{"a":1}').digest('hex');
    expect(signatureHeader('whsec_x', '{"a":1}', 1700000000)).toBe(`t=1700000000,v1=${expected}`);
  });
});

describe('webhook deliveries (embedded PGlite)', () => {
  let server: TestServer;
  let token: string;
  let receiver: CaptureReceiver;
  let elsewhere: CaptureReceiver;
  beforeAll(async () => {
    server = await startTestServer({
      config: { webhooks: { allowHttpLoopback: true, retryBaseMs: 50, retryMaxMs: 100, pollIntervalMs: 50, maxAttempts: 2, timeoutMs: 5000 } },
    });
    token = await adminToken(server);
    receiver = await startCaptureReceiver();
    elsewhere = await startCaptureReceiver();
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
    await elsewhere?.stop();
  });

  const deliveriesOf = async (id: string) => (await call(server, token, 'GET', `/webhooks/${id}/deliveries`)).body.items as Array<Record<string, any>>;

  test('a delivery carries the thin payload, Tessera-Event-Id and a signature that verifies with the secret shown at creation', async () => {
    const created = await call(server, token, 'POST', '/webhooks', { url: `${receiver.url}/hooks/tessera`, events: ['user.created'] });
    expect(created.status).toBe(201);
    const { id, secret } = created.body;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    // shown once: never in a read
    expect(JSON.stringify((await call(server, token, 'GET', `/webhooks/${id}`)).body)).not.toContain(secret);
    expect(JSON.stringify((await call(server, token, 'GET', '/webhooks')).body)).not.toContain(secret);

    const user = await call(server, token, 'POST', '/users', { username: 'webhook-ada', password: 'correct horse battery' });
    const delivery = await eventually(() => receiver.received.find((r) => r.path === '/hooks/tessera'), 'the delivery');
    const body = JSON.parse(delivery.body);
    const adminClientId = readAdminCredentials(server.config.keysDir, {})!.client_id;
    expect(Object.keys(body).sort()).toEqual(['actor', 'client_id', 'id', 'subject', 'time', 'type']);
    expect(body).toMatchObject({ type: 'user.created', subject: user.body.id, actor: adminClientId, client_id: null });
    expect(delivery.headers['tessera-event-id']).toBe(body.id);
    expect(delivery.headers['content-type']).toBe('application/json');
    const signature = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(delivery.headers['tessera-signature']));
    expect(signature).not.toBeNull();
    expect(createHmac('sha256', secret).update(`${signature![1]}.${delivery.body}`).digest('hex')).toBe(signature![2]);
    // the audit event it names is the one recorded
    const events = (await call(server, token, 'GET', '/audit?type=user.created')).body.items;
    expect(events.map((e: { id: string }) => e.id)).toContain(body.id);

    const log = await eventually(async () => (await deliveriesOf(id)).find((d) => d.status === 'delivered'), 'the delivery log to say delivered');
    expect(log).toMatchObject({ event_id: body.id, event_type: 'user.created', attempts: 1, last_status_code: 204, last_error: null });
    // only the events it subscribed to
    await call(server, token, 'POST', '/resources', { identifier: 'https://api.webhooks.test', scopes: ['read'] });
    expect((await deliveriesOf(id)).length).toBe(1);
  });

  test('a redirect is not followed: it is a failed attempt, retried up to the bound, then failed; the body is not stored', async () => {
    receiver.answer(307, { location: `${elsewhere.url}/stolen` });
    const created = await call(server, token, 'POST', '/webhooks', { url: `${receiver.url}/redirects`, events: ['user.disabled'] });
    await call(server, token, 'POST', '/users', { username: 'webhook-bob', password: 'correct horse battery' });
    await call(server, token, 'POST', '/users/webhook-bob/disable');
    const failed = await eventually(async () => (await deliveriesOf(created.body.id)).find((d) => d.status === 'failed'), 'the delivery to fail');
    expect(failed).toMatchObject({ event_type: 'user.disabled', attempts: 2, last_status_code: 307, last_error: 'HTTP 307', next_attempt_at: null });
    expect(JSON.stringify(failed)).not.toContain('must not store');
    expect(elsewhere.arrivals).toBe(0);
    expect(receiver.received.filter((r) => r.path === '/redirects')).toHaveLength(2);

    // an admin sends it again once the receiver is fixed
    receiver.answer(204);
    const again = await call(server, token, 'POST', `/webhooks/${created.body.id}/deliveries/${failed.id}/redeliver`);
    expect(again.status).toBe(202);
    const delivered = await eventually(async () => (await deliveriesOf(created.body.id)).find((d) => d.status === 'delivered'), 'the redelivery');
    expect(delivered).toMatchObject({ id: failed.id, attempts: 1, last_status_code: 204 });
    // only a failed one can be sent again; an unknown one is not found
    expect((await call(server, token, 'POST', `/webhooks/${created.body.id}/deliveries/${failed.id}/redeliver`)).status).toBe(409);
    expect((await call(server, token, 'POST', `/webhooks/${created.body.id}/deliveries/999999/redeliver`)).status).toBe(404);
  });

  test('a deleted subscription receives nothing more, and its log is gone', async () => {
    const created = await call(server, token, 'POST', '/webhooks', { url: `${receiver.url}/deleted`, events: ['user.created'] });
    expect((await call(server, token, 'DELETE', `/webhooks/${created.body.id}`)).status).toBe(204);
    await call(server, token, 'POST', '/users', { username: 'webhook-cy', password: 'correct horse battery' });
    expect((await call(server, token, 'GET', `/webhooks/${created.body.id}/deliveries`)).status).toBe(404);
    expect((await call(server, token, 'DELETE', `/webhooks/${created.body.id}`)).status).toBe(404);
    const queued = await server.db.knex('webhook_deliveries').where({ subscription_id: created.body.id }).count<{ count: string }[]>('* as count');
    expect(Number(queued[0].count)).toBe(0);
    expect(receiver.received.filter((r) => r.path === '/deleted')).toEqual([]);
  });
});

describe('webhook URL policy, default settings', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await adminToken(server);
  });
  afterAll(async () => { await server?.stop(); });

  test('without WEBHOOKS_ALLOW_HTTP_LOOPBACK neither http nor loopback is accepted; nothing is stored', async () => {
    for (const url of ['http://127.0.0.1:8080/hook', 'https://localhost/hook', 'https://169.254.169.254/', 'http://hooks.example.com/']) {
      const res = await call(server, token, 'POST', '/webhooks', { url, events: ['user.created'] });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'url' })]);
    }
    expect((await call(server, token, 'GET', '/webhooks')).body.items).toEqual([]);
  });

  test('checked again at delivery: a name that now resolves to loopback, or a stored loopback address, is not connected to', async () => {
    const receiver = await startCaptureReceiver();
    try {
      const port = new URL(receiver.url).port;
      // as if the name had resolved to a public address when it was subscribed (or the row came from elsewhere)
      const byName = await server.services.webhooks.create({ url: `http://localhost:${port}/rebound`, events: ['user.created'], createdBy: 'test' });
      const byAddress = await server.services.webhooks.create({ url: `http://127.0.0.1:${port}/stored`, events: ['user.created'], createdBy: 'test' });
      await call(server, token, 'POST', '/users', { username: 'rebind-ada', password: 'correct horse battery' });
      for (const { subscription } of [byName, byAddress]) {
        const attempt = await eventually(async () => (await call(server, token, 'GET', `/webhooks/${subscription.id}/deliveries`)).body.items
          // attempts counts from the claim; last_error is written when the attempt ends
          .find((d: { attempts: number; last_error: string | null }) => d.attempts >= 1 && d.last_error !== null), 'the first attempt, ended');
        expect(attempt).toMatchObject({ status: 'pending', last_status_code: null });
        expect(attempt.last_error).toMatch(/^destination refused: .*loopback/);
      }
      expect(receiver.arrivals).toBe(0);
    } finally {
      await receiver.stop();
    }
  });
});

describe('webhooks to an https receiver with a private CA (WEBHOOKS_CA_FILE)', () => {
  let certificates: TestCertificates;
  let receiver: Server;
  let port: number;
  const received: string[] = [];
  const servers: TestServer[] = [];
  beforeAll(async () => {
    // a certificate for "localhost" from a CA made here; loopback is allowed by the development setting
    certificates = await createTestCertificates('localhost');
    receiver = createHttpsServer({ cert: readFileSync(certificates.cert), key: readFileSync(certificates.key) }, (req, res) => {
      received.push(String(req.headers['tessera-event-id']));
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    port = (receiver.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const server of servers) await server.stop();
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
    certificates?.remove();
  });

  async function deliverOnce(webhooks: Record<string, unknown>) {
    const server = await startTestServer({ config: { webhooks: { allowHttpLoopback: true, retryBaseMs: 50, retryMaxMs: 100, pollIntervalMs: 50, maxAttempts: 1, ...webhooks } } });
    servers.push(server);
    const token = await adminToken(server);
    const created = await call(server, token, 'POST', '/webhooks', { url: `https://localhost:${port}/tls`, events: ['user.created'] });
    expect(created.status).toBe(201);
    await call(server, token, 'POST', '/users', { username: 'tls-ada', password: 'correct horse battery' });
    return eventually(async () => (await call(server, token, 'GET', `/webhooks/${created.body.id}/deliveries`)).body.items.find((d: { status: string }) => d.status !== 'pending'), 'the attempt');
  }

  test('trusted through the configured CA: delivered', async () => {
    const delivery = await deliverOnce({ caFile: certificates.ca });
    expect(delivery).toMatchObject({ status: 'delivered', last_status_code: 204 });
    expect(received).toContain(delivery.event_id);
  });

  test('without it the certificate is refused: nothing is sent', async () => {
    const before = received.length;
    const delivery = await deliverOnce({});
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, last_status_code: null });
    expect(delivery.last_error).toMatch(/CERT|SIGNATURE|ISSUER/);
    expect(received.length).toBe(before);
  });
});
