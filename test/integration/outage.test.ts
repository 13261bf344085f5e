/*
 * Store outages (DESIGN "Errors and bad input"): a request that needs Redis or
 * Postgres while it is down gets 503 JSON with Retry-After, the process does
 * not crash, and it recovers by itself within seconds of the store returning.
 *
 * The real process (`node src/main.ts serve`) runs on a redis-server and a
 * Postgres that this test starts, stops and restarts itself; the machine's
 * shared Redis and Postgres are never touched.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createDatabase } from '../../src/db/index.ts';
import { createClientRepository, createResourceServerRepository } from '../../src/clients/index.ts';
import { freePort, spawnTessera, waitForOk, type TesseraProcess } from '../support/process.ts';
import { redisBinariesInstalled, startRedisServer } from '../support/redis-cluster.ts';
import { describeWithService, reachable } from '../support/services.ts';
import { basicAuth } from '../support/oauth.ts';
import { adminTokenFor } from '../admin/admin-api.ts';
import { isStoreUnavailable } from '../../src/http/store-outage.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('which errors mean "store unavailable" (503) rather than a bug (500)', () => {
  test.each([
    ['refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })],
    ['Postgres connection exception', Object.assign(new Error('x'), { code: '08006' })],
    ['Postgres shutting down', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
    ['Postgres too many connections', Object.assign(new Error('sorry, too many clients already'), { code: '53300' })],
    ['knex pool', new Error('Knex: Timeout acquiring a connection. The pool is probably full.')],
    ['ioredis gave up', new Error('Reached the max retries per request limit (which is 1).')],
    ['ioredis command timeout', new Error('Command timed out')],
    ['Redis loading its AOF', new Error('LOADING Redis is loading the dataset in memory')],
    ['Sentinel failover', new Error("READONLY You can't write against a read only replica.")],
    ['Redis full', new Error("OOM command not allowed when used memory > 'maxmemory'.")],
    ['Postgres disk full', Object.assign(new Error('could not extend file'), { code: '53100' })],
    ['cluster down', new Error('CLUSTERDOWN The cluster is down')],
    ['wrapped', new Error('query failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) })],
    ['aggregate', new AggregateError([Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })])],
  ])('%s → unavailable', (_name, error) => {
    expect(isStoreUnavailable(error)).toBe(true);
  });

  test.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['a constraint violation', Object.assign(new Error('duplicate key value'), { code: '23505' })],
    ['a script error', new Error('ERR value is not a valid float script: abc')],
    ['not an error', 'ECONNREFUSED'],
    ['nothing', undefined],
  ])('%s → not unavailable', (_name, error) => {
    expect(isStoreUnavailable(error)).toBe(false);
  });
});

// ---- a throwaway Postgres ----

function postgresBinDir(): string | undefined {
  try {
    const versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    return versions.length ? `/usr/lib/postgresql/${versions[0]}/bin` : undefined;
  } catch {
    return undefined;
  }
}

/** initdb refuses to run as root: as root, the cluster belongs to the postgres user. */
async function postgresIdentity(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid), gid: Number(gid) };
}

async function postgresAvailable(): Promise<boolean> {
  const bin = postgresBinDir();
  if (!bin) return false;
  try {
    await run(join(bin, 'initdb'), ['--version']);
    await postgresIdentity();
    return true;
  } catch {
    return false;
  }
}

/*
 * Like the redis-servers of test/support/redis-cluster.ts, the postmaster runs
 * in the foreground under a sh watchdog that kills it (and removes the temp
 * dir) as soon as its stdin pipe closes: at stop(), or whenever the test
 * process dies, so no Postgres is ever left behind (pg_ctl start would
 * daemonize it). The outage itself is `pg_ctl stop -m fast`.
 */
const PG_WATCHDOG = 'postgres "$@" & pid=$!; read -r _; kill -QUIT $pid 2>/dev/null; wait $pid; rm -rf "$PG_DIR"';

interface ThrowawayPostgres {
  url: string;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = postgresBinDir()!;
  const owner = await postgresIdentity();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-pg-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const asOwner = { ...(owner ?? {}), env: { ...process.env, LC_ALL: 'C', PG_DIR: dir } };
  const watchdogs: ChildProcess[] = [];

  await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '--locale=C', '-E', 'UTF8'], asOwner);

  const ready = async () => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (await run(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]).then(() => true, () => false)) return;
      await sleep(100);
    }
    throw new Error(`throwaway Postgres on ${port} did not start`);
  };
  const up = async () => {
    watchdogs.push(spawn('sh', ['-c', PG_WATCHDOG, 'pg-watchdog',
      '-D', data, '-p', String(port), '-k', dir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off',
    ], { ...asOwner, stdio: ['pipe', 'ignore', 'ignore'] }));
    await ready();
  };
  const stop = async () => {
    await Promise.all(watchdogs.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => { clearTimeout(force); resolve(); });
      child.stdin?.end();
    })));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await up();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    up,
    stop,
    async down() {
      await run(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'fast', '-w'], asOwner);
      while (await reachable('127.0.0.1', port, 200)) await sleep(100);
    },
  };
}

// ---- the test ----

const OPAQUE_API = 'https://opaque.outage.test';
const JWT_API = 'https://jwt.outage.test';
const REDIRECT_URI = 'https://app.outage.test/callback';
const RECOVERY_DEADLINE_MS = 15_000;
const METADATA_CACHE_MS = 5_000;

const services = (await redisBinariesInstalled()) && (await postgresAvailable());

describeWithService('redis-server and Postgres binaries (initdb)', services)('store outages, with the real process', () => {
  let postgres: ThrowawayPostgres | undefined;
  let redis: { port: number; stop(): Promise<void> } | undefined;
  let tessera: TesseraProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-outage-'));
  let url: string;
  let client: { clientId: string; clientSecret: string };
  let browserClientId: string;
  /** Every status this test saw, to check no 5xx other than 503 ever came back. */
  const statuses: Array<{ what: string; status: number }> = [];

  beforeAll(async () => {
    postgres = await startThrowawayPostgres();
    redis = await startRedisServer();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    tessera = spawnTessera(['serve'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: url,
      DATABASE_URL: postgres.url,
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      KEYS_DIR: join(dir, 'keys'),
      DATA_DIR: join(dir, 'data'),
      LOG_LEVEL: 'warn',
    }, port);
    await waitForOk(`${url}/readyz`, tessera, 30_000);

    // Migrations ran at start; register what the requests below need.
    const db = await createDatabase({ databaseUrl: postgres.url });
    try {
      const clients = createClientRepository(db.knex);
      const resources = createResourceServerRepository(db.knex, { accessTokenTtl: 600 });
      await resources.create({ identifier: OPAQUE_API, scopes: ['read'], tokenFormat: 'opaque' });
      await resources.create({ identifier: JWT_API, scopes: ['read'] });
      const created = await clients.create({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] }, async () => {});
      client = { clientId: created.client.clientId, clientSecret: created.clientSecret! };
      const browser = await clients.create({ name: 'web', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'] }, async () => {});
      browserClientId = browser.client.clientId;
    } finally {
      await db.close(); // before any outage: an idle pool of the test must not see it
    }
  }, 60_000);

  afterAll(async () => {
    await tessera?.stop();
    await redis?.stop();
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  type Answer = { status: number; retryAfter: string | null; contentType: string | null; body: string };
  async function call(what: string, path: string, init: RequestInit = {}): Promise<Answer> {
    const res = await fetch(`${url}${path}`, { ...init, redirect: 'manual', signal: AbortSignal.timeout(20_000) });
    const answer = { status: res.status, retryAfter: res.headers.get('retry-after'), contentType: res.headers.get('content-type'), body: await res.text() };
    statuses.push({ what, status: res.status });
    return answer;
  }
  const form = (params: Record<string, string>, auth = true): RequestInit => ({
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      ...(auth ? { authorization: basicAuth(client) } : {}),
    },
    body: new URLSearchParams(params),
  });

  // Each needs both stores: the client is in Postgres, the token state in Redis.
  const opaqueToken = () => call('opaque token', '/token', form({ grant_type: 'client_credentials', resource: OPAQUE_API, scope: 'read' }));
  const jwtToken = () => call('jwt token', '/token', form({ grant_type: 'client_credentials', resource: JWT_API, scope: 'read' }));
  const introspect = (token: string) => call('introspection', '/token/introspection', form({ token }));
  const authorizePage = () => call('authorize', `/auth?${new URLSearchParams({
    client_id: browserClientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
  })}`, { headers: { accept: 'text/html' } });
  const readyz = () => call('readyz', '/readyz');
  const adminClients = (token: string) => call('admin', '/admin/v1/clients', { headers: { authorization: `Bearer ${token}` } });
  async function adminAccessToken(): Promise<string> {
    const admin = JSON.parse(readFileSync(join(dir, 'keys', 'admin-client.json'), 'utf8')) as { client_id: string; client_secret: string };
    return adminTokenFor({ url }, { clientId: admin.client_id, clientSecret: admin.client_secret }, 'admin');
  }

  function expectUnavailableJson(answer: Answer) {
    expect({ status: answer.status, retryAfter: answer.retryAfter, type: answer.contentType }).toEqual({
      status: 503, retryAfter: expect.stringMatching(/^\d+$/), type: expect.stringContaining('application/json'),
    });
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'temporarily_unavailable' });
  }

  async function untilOk(request: () => Promise<Answer>): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < RECOVERY_DEADLINE_MS) {
      if ((await request()).status === 200) return Date.now() - started;
      await sleep(200);
    }
    throw new Error(`no recovery within ${RECOVERY_DEADLINE_MS} ms`);
  }

  const alive = () => tessera!.child.exitCode === null && tessera!.child.signalCode === null;

  let jwt: string;

  test('with both stores up, everything answers', async () => {
    expect((await opaqueToken()).status).toBe(200);
    const issued = await jwtToken();
    expect(issued.status).toBe(200);
    jwt = JSON.parse(issued.body).access_token;
    expect(JSON.parse((await introspect(jwt)).body)).toMatchObject({ active: true });
    expect((await authorizePage()).status).toBe(303);
    expect((await readyz()).status).toBe(200);
  });

  test('Redis down: 503 JSON with Retry-After (HTML for pages), the process lives; back within seconds', async () => {
    const port = redis!.port;
    await redis!.stop();

    expectUnavailableJson(await opaqueToken());
    expectUnavailableJson(await introspect(jwt));
    const page = await authorizePage();
    expect({ status: page.status, retryAfter: page.retryAfter }).toEqual({ status: 503, retryAfter: expect.stringMatching(/^\d+$/) });
    expect((await readyz()).status).toBe(503);
    expect((await call('healthz', '/healthz')).status).toBe(200);
    // it stays that way while the outage lasts, without crashing
    await sleep(1500);
    expectUnavailableJson(await opaqueToken());
    expect(alive()).toBe(true);

    redis = await startRedisServer(port);
    const ms = await untilOk(opaqueToken);
    expect(ms).toBeLessThan(RECOVERY_DEADLINE_MS);
    // the restarted Redis is empty: the JWT was never stored, and is still valid
    expect(JSON.parse((await introspect(jwt)).body)).toMatchObject({ active: true });
    expect((await authorizePage()).status).toBe(303);
    expect((await readyz()).status).toBe(200);
    expect(alive()).toBe(true);
  }, 60_000);

  test('Redis hangs (connected, never answers): 503 on the command timeout, not a request that hangs; back when it answers', async () => {
    // CLIENT PAUSE ALL: the server keeps every connection and answers nothing until the pause ends
    const PAUSE_MS = 9_000;
    await run('redis-cli', ['-h', '127.0.0.1', '-p', String(redis!.port), 'client', 'pause', String(PAUSE_MS), 'ALL']);
    const started = Date.now();
    const answer = await opaqueToken();
    const waited = Date.now() - started;
    expectUnavailableJson(answer);
    expect(waited).toBeLessThan(PAUSE_MS - 1_000); // answered on Tessera's own timeout, not when the pause ended
    expect(alive()).toBe(true);

    await sleep(Math.max(0, PAUSE_MS - (Date.now() - started)));
    const ms = await untilOk(opaqueToken);
    expect(ms).toBeLessThan(RECOVERY_DEADLINE_MS);
    expect(JSON.parse((await introspect(jwt)).body)).toMatchObject({ active: true });
  }, 60_000);

  test('Postgres down: 503 JSON with Retry-After (problem+json at the admin API), the process lives; back within seconds', async () => {
    const adminToken = await adminAccessToken();
    expect((await adminClients(adminToken)).status).toBe(200);
    await postgres!.down();

    // Resource-server metadata is cached for 5 s (src/clients/ttl-cache.ts): what needs it
    // keeps working that long; then it needs Postgres. Clients stay cached, each use checked
    // against Redis (no client can change while Postgres is down): introspecting a JWT and
    // starting an authorization, which need only the client and Redis, keep working.
    expect((await adminClients(adminToken)).status).toBe(503);
    expect((await readyz()).status).toBe(503);
    await sleep(METADATA_CACHE_MS + 500);
    expectUnavailableJson(await opaqueToken());
    expectUnavailableJson(await jwtToken());
    expect(JSON.parse((await introspect(jwt)).body)).toMatchObject({ active: true });
    expect((await authorizePage()).status).toBe(303);
    const admin = await adminClients(adminToken);
    expect({ status: admin.status, retryAfter: admin.retryAfter, type: admin.contentType })
      .toEqual({ status: 503, retryAfter: expect.stringMatching(/^\d+$/), type: expect.stringContaining('application/problem+json') });
    expect((await call('healthz', '/healthz')).status).toBe(200);
    expect(alive()).toBe(true);

    await postgres!.up();
    const ms = await untilOk(jwtToken);
    expect(ms).toBeLessThan(RECOVERY_DEADLINE_MS);
    expect((await opaqueToken()).status).toBe(200);
    expect(JSON.parse((await introspect(jwt)).body)).toMatchObject({ active: true });
    expect((await adminClients(adminToken)).status).toBe(200);
    expect((await authorizePage()).status).toBe(303);
    expect((await readyz()).status).toBe(200);
    expect(alive()).toBe(true);
  }, 60_000);

  test('both down at once, then both back', async () => {
    const port = redis!.port;
    await Promise.all([redis!.stop(), postgres!.down()]);
    await sleep(METADATA_CACHE_MS + 500);
    expectUnavailableJson(await opaqueToken());
    expectUnavailableJson(await introspect(jwt));
    expect(alive()).toBe(true);
    [redis] = await Promise.all([startRedisServer(port), postgres!.up()]);
    await untilOk(opaqueToken);
    expect(alive()).toBe(true);
  }, 60_000);

  test('no request ever got a 5xx other than 503, and the log has no crash', () => {
    expect(statuses.filter(({ status }) => status >= 500 && status !== 503)).toEqual([]);
    expect(statuses.filter(({ status }) => status === 503).length).toBeGreaterThan(5);
    expect(alive()).toBe(true);
    expect(tessera!.output()).not.toMatch(/uncaught|unhandled/i);
  });
});
