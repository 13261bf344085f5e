// /metrics against a real server: its answer is parsed as the Prometheus text
// format by a parser (parse-prometheus-text-format, prom2json's shape), and its
// counters must move by exactly the traffic this test sends.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, redisUp } from '../support/services.ts';
import { freePort } from '../support/process.ts';
import { passwordGrant, postAsClient, tokenRequest, accessTokenOf, type ClientCredentials } from '../support/oauth.ts';

const RESOURCE = 'https://api.example.test';
const TOKEN = 'a-metrics-token-of-at-least-32-characters';

type Labels = Record<string, string>;

/**
 * The families of a scrape, parsed. The parser keeps the labels of a
 * histogram's series only when it has none (it folds every series into one),
 * so the series of labelled histograms are read from a second parse of the
 * same text in which histograms are declared untyped: then the parser returns
 * each `_bucket`, `_sum` and `_count` sample with its labels.
 */
interface Scrape { families: PrometheusFamily[]; histogramSamples: PrometheusFamily[] }

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(url, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const text = await res.text();
  return {
    families: parsePrometheusTextFormat(text),
    histogramSamples: parsePrometheusTextFormat(text.replace(/^(# TYPE \S+) histogram$/gm, '$1 untyped')),
  };
}

const family = (scraped: Scrape, name: string) => scraped.families.find((f) => f.name === name);

const matches = (labels: Labels | undefined, wanted: Labels) => Object.entries(wanted).every(([k, v]) => labels?.[k] === v);

/** The value of a counter or gauge sample (0 when the series does not exist yet). */
function valueOf(scraped: Scrape, name: string, labels: Labels = {}): number {
  const sample = family(scraped, name)?.metrics.find((m) => matches(m.labels, labels));
  return sample ? Number(sample.value) : 0;
}

/** The observation count of a histogram series (0 when it does not exist yet). */
function countOf(scraped: Scrape, name: string, labels: Labels): number {
  const samples = scraped.histogramSamples.filter((f) => f.name === `${name}_count`).flatMap((f) => f.metrics);
  const sample = samples.find((m) => matches(m.labels, labels));
  return sample ? Number(sample.value) : 0;
}

/** A GET with a Host header of our choosing (fetch does not let one set it). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => { res.resume(); resolve(res.statusCode!); });
    req.once('error', reject);
    req.end();
  });
}

async function prepareClients(server: TestServer) {
  await server.services.resources.create({ identifier: RESOURCE, scopes: ['read'] });
  const service = await server.createClient({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
  const app = await server.createClient({ name: 'app', firstParty: true, grantTypes: ['password'], scopes: ['openid'] });
  await server.createUser({ username: 'dana', password: 'the right password' });
  return { service, app };
}

const clientCredentials = (server: TestServer, client: ClientCredentials) =>
  tokenRequest(server.url, { grant_type: 'client_credentials', resource: RESOURCE, scope: 'read' }, client);

const introspect = (server: TestServer, client: ClientCredentials, token: string) =>
  postAsClient(`${server.url}/token/introspection`, { token }, client);

/** Sends known traffic and checks that each metric moved by exactly as much. */
async function trafficMovesCounters(server: TestServer, metricsUrl: string, headers: Record<string, string> = {}) {
  const { service, app } = await prepareClients(server);
  const before = await scrape(metricsUrl, headers);

  const tokens: string[] = [];
  for (let i = 0; i < 3; i++) tokens.push(accessTokenOf(await clientCredentials(server, service)));
  for (const token of tokens.slice(0, 2)) expect(JSON.parse((await introspect(server, service, token)).text).active).toBe(true);
  expect((await passwordGrant(server.url, app, { username: 'dana', password: 'wrong', scope: 'openid' })).status).toBe(400);
  expect((await passwordGrant(server.url, app, { username: 'nobody', password: 'wrong', scope: 'openid' })).status).toBe(400);
  expect((await fetch(`${server.url}/interaction/some-uid-nobody-has/login`, { method: 'POST' })).status).toBeGreaterThanOrEqual(400);
  expect((await fetch(`${server.url}/no/such/path/${Math.random()}`)).status).toBe(404);

  const after = await scrape(metricsUrl, headers);
  const moved = (name: string, labels: Labels = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
  const observed = (name: string, labels: Labels) => countOf(after, name, labels) - countOf(before, name, labels);

  // requests by route template and status, with their latency histograms
  expect(moved('tessera_http_requests_total', { route: '/token', method: 'POST', status: '200' })).toBe(3);
  expect(moved('tessera_http_requests_total', { route: '/token', method: 'POST', status: '400' })).toBe(2);
  expect(moved('tessera_http_requests_total', { route: '/token/introspection', method: 'POST', status: '200' })).toBe(2);
  expect(observed('tessera_http_request_duration_seconds', { route: '/token', method: 'POST' })).toBe(5);
  expect(observed('tessera_http_request_duration_seconds', { route: '/token/introspection', method: 'POST' })).toBe(2);
  expect(observed('tessera_http_request_duration_seconds', { route: '/interaction/:uid/login', method: 'POST' })).toBe(1);
  // a path nobody routes is "other", never itself: clients cannot create series
  expect(observed('tessera_http_request_duration_seconds', { route: 'other', method: 'GET' })).toBeGreaterThanOrEqual(1);
  const routes = new Set(family(after, 'tessera_http_requests_total')!.metrics.map((m) => m.labels!.route));
  expect(routes.size).toBeGreaterThan(3);
  for (const route of routes) expect(route === 'other' || route.startsWith('/')).toBe(true);
  expect([...routes].some((r) => r.includes('some-uid') || r.includes('no/such'))).toBe(false);
  expect(family(after, 'tessera_http_request_duration_seconds')!.type).toBe('HISTOGRAM');
  const buckets = after.histogramSamples.filter((f) => f.name === 'tessera_http_request_duration_seconds_bucket').flatMap((f) => f.metrics)
    .filter((m) => matches(m.labels, { route: '/token', method: 'POST' }));
  expect(buckets.find((m) => m.labels!.le === '+Inf')?.value).toBe(String(countOf(after, 'tessera_http_request_duration_seconds', { route: '/token', method: 'POST' })));

  // tokens by grant type; sign-in failures by reason
  expect(moved('tessera_tokens_issued_total', { grant_type: 'client_credentials' })).toBe(3);
  expect(moved('tessera_tokens_issued_total', { grant_type: 'password' })).toBe(0);
  expect(moved('tessera_signin_failures_total', { reason: 'invalid_credentials', via: 'password_grant' })).toBe(1);
  expect(moved('tessera_signin_failures_total', { reason: 'unknown_account', via: 'password_grant' })).toBe(1);

  // the token state: the JWT introspections asked the denylist, each timed
  const store = server.tokenState.kind;
  expect(observed('tessera_token_state_operation_duration_seconds', { store, operation: 'denylist.has' })).toBe(2);
  expect(valueOf(after, 'tessera_token_state_errors_total', { store, operation: 'denylist.has' })).toBe(0);

  // the hashing queue and the event loop's lag are there (their values depend on the moment)
  expect(family(after, 'tessera_password_hashing_queue_depth')!.type).toBe('GAUGE');
  expect(valueOf(after, 'tessera_password_hashing_queue_depth')).toBe(0);
  expect(family(after, 'tessera_password_hashing_running')).toBeDefined();
  expect(family(after, 'tessera_password_hashing_refused_total')).toBeDefined();
  expect(family(after, 'nodejs_eventloop_lag_p99_seconds')!.type).toBe('GAUGE');
  expect(family(after, 'process_cpu_seconds_total')!.type).toBe('COUNTER');
  expect(valueOf(after, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  expect(valueOf(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  expect(family(after, 'tessera_account_lockouts_total')).toBeDefined();
}

describe('/metrics on the main port, token state in SQL (loopback only: no token set)', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer(); });
  afterAll(async () => { await server?.stop(); });

  test('parses as Prometheus text, and its counters move by the traffic sent', async () => {
    await trafficMovesCounters(server, `${server.url}/metrics`);
  });

  test('a lockout is counted', async () => {
    const locking = await startTestServer({ config: { lockout: { maxConsecutiveFailures: 2, baseDelaySeconds: 60, maxDelaySeconds: 60, perIpPerMinute: 1000, perIpAndUsernamePerMinute: 1000 } } });
    try {
      const app = await locking.createClient({ name: 'app', firstParty: true, grantTypes: ['password'], scopes: ['openid'] });
      await locking.createUser({ username: 'erin', password: 'the right password' });
      for (let i = 0; i < 2; i++) await passwordGrant(locking.url, app, { username: 'erin', password: 'wrong', scope: 'openid' });
      expect((await passwordGrant(locking.url, app, { username: 'erin', password: 'the right password', scope: 'openid' })).status).toBe(429);
      const families = await scrape(`${locking.url}/metrics`);
      expect(valueOf(families, 'tessera_account_lockouts_total', { via: 'password_grant' })).toBe(1);
      expect(valueOf(families, 'tessera_signin_failures_total', { reason: 'locked', via: 'password_grant' })).toBe(1);
    } finally {
      await locking.stop();
    }
  });

  test('a Host header that names neither loopback nor the issuer is refused (DNS rebinding)', async () => {
    expect(await getWithHost(`${server.url}/metrics`, 'attacker.example')).toBe(403);
    expect(await getWithHost(`${server.url}/metrics`, `localhost:${new URL(server.url).port}`)).toBe(200);
  });

  test('only GET and HEAD', async () => {
    const res = await fetch(`${server.url}/metrics`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('/metrics with a bearer token', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer({ config: { metrics: { enabled: true, token: TOKEN } } }); });
  afterAll(async () => { await server?.stop(); });

  test('the right token reads it; no token, a wrong one or another scheme get 401 and nothing else', async () => {
    await trafficMovesCounters(server, `${server.url}/metrics`, { authorization: `Bearer ${TOKEN}` });
    for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, 'Bearer ']) {
      const res = await fetch(`${server.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      const body = await res.text();
      expect(body).not.toMatch(/tessera_|nodejs_/);
    }
  });
});

describe('/metrics refused without a token behind a trusted proxy', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer({ config: { proxy: true } }); });
  afterAll(async () => { await server?.stop(); });

  test('403: the loopback peer may be a proxy relaying anyone', async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(403);
    expect(await res.text()).not.toMatch(/tessera_/);
  });
});

describe('/metrics on a separate port', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer({ config: { metrics: { enabled: true, port: await freePort() } } }); });
  afterAll(async () => { await server?.stop(); });

  test('served there and only there', async () => {
    expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(server.metricsUrl!).port).not.toBe(new URL(server.url).port);
    await trafficMovesCounters(server, server.metricsUrl!);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(new URL('/token', server.metricsUrl)).then((r) => r.status))).toBe(404);
  });
});

describe('/metrics disabled', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer({ config: { metrics: { enabled: false } } }); });
  afterAll(async () => { await server?.stop(); });

  test('404, and the server still answers', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describeWithService('Redis', await redisUp())('/metrics with the token state in Redis', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer({ redis: true }); });
  afterAll(async () => { await server?.stop(); });

  test('store latency is measured for Redis too', async () => {
    expect(server.tokenState.kind).toBe('redis');
    await trafficMovesCounters(server, `${server.url}/metrics`);
  });
});
