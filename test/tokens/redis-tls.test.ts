import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Cluster } from 'ioredis';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { createRedisClient, type RedisConnectionOptions } from '../../src/redis/index.ts';
import { createRedisTokenState } from '../../src/tokens/redis-token-state.ts';
import type { RedisTlsSetting } from '../../src/config/index.ts';
import { describeWithService } from '../support/services.ts';
import { redisBinariesInstalled, startRedisCluster, startRedisSentinel, type RunningCluster } from '../support/redis-cluster.ts';
import { keysUnder } from '../support/redis-keys.ts';
import { createTestCertificates, type TestCertificates } from '../support/test-certificates.ts';
import { startTestServer } from '../support/server.ts';
import { riskyConfiguration } from '../../src/server/risky-configuration.ts';
import { passwordGrant } from '../support/oauth.ts';

/*
 * Sentinel and Cluster over TLS, against real redis-servers that listen only
 * with TLS (their clear-text port is closed) and present a certificate, signed
 * by a throw-away CA, that names "redis.test" and not the 127.0.0.1 they
 * listen on and announce.
 */

const quiet = () => {};
const prefix = `test:tessera:${randomUUID()}:`;

/**
 * Whether a token state on `options` works: a write and a read. ioredis
 * reports a refused TLS handshake only as "Connection is closed", so each
 * refusal below is shown against the same servers accepting the right settings.
 */
async function works(options: RedisConnectionOptions): Promise<boolean> {
  const state = createRedisTokenState(createRedisClient({ ...options, onError: quiet }), { prefix });
  try {
    await state.denylist.add('tls-jti', Math.floor(Date.now() / 1000) + 60);
    return await state.denylist.has('tls-jti');
  } catch {
    return false;
  } finally {
    await state.close();
  }
}

let certs: TestCertificates;
beforeAll(async () => { certs = await createTestCertificates(); });
afterAll(() => certs?.remove());

describe('TLS settings are read at start; a bad one is a configuration error naming the field', () => {
  test('a CA file that is missing', () => {
    const missing = '/nonexistent/ca.pem';
    expect(() => createRedisClient({ cluster: { nodes: [{ host: '127.0.0.1', port: 1 }], tls: { ca: missing } } }))
      .toThrow(new ConfigError(`redis.cluster.tls.ca: cannot read ${missing} (ENOENT)`));
    expect(() => createRedisClient({ sentinel: { name: 'm', sentinels: [{ host: '127.0.0.1', port: 1 }], tls: { ca: missing } } }))
      .toThrow(/^redis\.sentinel\.tls\.ca: cannot read/);
  });

  test('a file that is no certificate', () => {
    const notPem = join(certs.ca, '..', 'not-a-certificate.pem');
    writeFileSync(notPem, 'hello\n');
    expect(() => createRedisClient({ cluster: { nodes: [{ host: '127.0.0.1', port: 1 }], tls: { ca: certs.ca, cert: notPem, key: certs.key } } }))
      .toThrow(/^redis\.cluster\.tls: /);
  });

  test('certificate checks cannot be turned off; cert without key is refused', () => {
    const sentinel = (tls: unknown) => ({ redis: { sentinel: { name: 'm', sentinels: [{ host: '127.0.0.1', port: 1 }], tls } } });
    expect(() => loadConfig({}, sentinel({ ca: certs.ca, rejectUnauthorized: false })))
      .toThrow(/redis\.sentinel\.tls\.rejectUnauthorized: unknown field/);
    expect(() => loadConfig({}, { redis: { cluster: { nodes: [{ host: '127.0.0.1', port: 1 }], tls: { cert: certs.cert } } } }))
      .toThrow(/redis\.cluster\.tls must have property key when property cert is present/);
    expect(loadConfig({}, sentinel(true)).redis.sentinel?.tls).toBe(true);
  });

  test('Redis off this machine without TLS is a risky configuration, named in a warning at start', () => {
    const risks = (redis: Record<string, unknown>) => riskyConfiguration(loadConfig({}, { redis })).filter((r) => r.setting === 'redis');
    const remote = [{ host: '10.0.0.11', port: 26379 }];
    expect(risks({ sentinel: { name: 'm', sentinels: remote } })[0]?.message).toMatch(/Redis at 10\.0\.0\.11 is reached without TLS/);
    expect(risks({ cluster: { nodes: [...remote, { host: '127.0.0.1', port: 7000 }] } })[0]?.message).toMatch(/Redis at 10\.0\.0\.11 is reached/);
    expect(risks({ url: 'redis://:pw@redis.internal:6379' })[0]?.message).toMatch(/Redis at redis\.internal is reached/);
    expect(risks({ url: 'redis://:pw@redis.internal:6379' })[0]?.message).not.toContain('pw');
    expect(risks({ sentinel: { name: 'm', sentinels: remote, tls: true } })).toEqual([]);
    expect(risks({ cluster: { nodes: remote, tls: { ca: certs.ca } } })).toEqual([]);
    expect(risks({ url: 'rediss://redis.internal:6380' })).toEqual([]);
    expect(risks({ cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }] } })).toEqual([]);
  });

  test('a server whose CA file is missing does not start', async () => {
    await expect(startTestServer({ config: { redis: { cluster: { nodes: [{ host: '127.0.0.1', port: 1 }], tls: { ca: '/nonexistent/ca.pem' } } } } }))
      .rejects.toThrow(/redis\.cluster\.tls\.ca: cannot read/);
  });
});

describeWithService('redis-server', await redisBinariesInstalled())('Redis over TLS', () => {
  describe('Cluster: 3 masters speaking only TLS', () => {
    let cluster: RunningCluster | undefined;
    beforeAll(async () => { cluster = await startRedisCluster({ tls: certs }); }, 60_000);
    afterAll(async () => { await cluster?.stop(); });
    const tls = () => ({ ca: certs.ca, servername: certs.servername });

    test('a Tessera server keeps its token state and lockout counters there', async () => {
      const keyPrefix = `tessera-tls-test:${randomUUID()}:`;
      const server = await startTestServer({ config: { redis: { keyPrefix, cluster: { nodes: cluster!.nodes, tls: tls() } } } });
      const client = createRedisClient({ cluster: { nodes: cluster!.nodes, tls: tls() }, onError: quiet }) as Cluster;
      try {
        expect(server.tokenState.kind).toBe('redis');
        const app = await server.createClient({ name: 'app', firstParty: true, grantTypes: ['password'], scopes: ['openid'] });
        await server.createUser({ username: 'tls-user', password: 'tls user password' });
        expect((await passwordGrant(server.url, app, { username: 'tls-user', password: 'wrong password', scope: 'openid' })).status).toBe(400);
        const ok = await passwordGrant(server.url, app, { username: 'tls-user', password: 'tls user password', scope: 'openid' });
        expect(ok.status).toBe(200);
        const keys = (await Promise.all(client.nodes('master').map((node) => keysUnder(node, keyPrefix)))).flat();
        expect(keys.some((key) => key.includes('lockout'))).toBe(true);
        expect(keys.length).toBeGreaterThan(1);
      } finally {
        await server.stop();
        await client.quit();
      }
    });

    test('the token state works with the CA and the name the certificates hold; every other setting is refused', async () => {
      const nodes = cluster!.nodes;
      expect(await works({ cluster: { nodes, tls: tls() } })).toBe(true);
      expect(await works({ cluster: { nodes } })).toBe(false); // clear text: the nodes speak only TLS
      expect(await works({ cluster: { nodes, tls: { ca: certs.otherCa, servername: certs.servername } } })).toBe(false); // another CA
      expect(await works({ cluster: { nodes, tls: true } })).toBe(false); // the system's CAs did not sign them either
      expect(await works({ cluster: { nodes, tls: { ca: certs.ca } } })).toBe(false); // 127.0.0.1 is not the name in the certificates
      expect(await works({ cluster: { nodes, tls: tls() } })).toBe(true);
    });
  });

  describe('Sentinel: a sentinel and its master, both speaking only TLS and asking for a client certificate', () => {
    let sentinel: Awaited<ReturnType<typeof startRedisSentinel>> | undefined;
    beforeAll(async () => { sentinel = await startRedisSentinel(certs); }, 30_000);
    afterAll(async () => { await sentinel?.stop(); });
    const connection = (tls?: RedisTlsSetting) => ({ sentinel: { name: sentinel!.name, sentinels: sentinel!.sentinels, tls } });
    const full = () => ({ ca: certs.ca, cert: certs.cert, key: certs.key, servername: certs.servername });

    test('the token state works through the sentinel, on the master it names (which speaks only TLS)', async () => {
      expect(await works(connection(full()))).toBe(true);
    });

    test('clear text, no client certificate, another CA, no servername: refused', async () => {
      // each waits out the command timeout (ioredis keeps asking the sentinels): run side by side
      expect(await Promise.all([
        works(connection()),
        works(connection({ ca: certs.ca, servername: certs.servername })),
        works(connection({ ...full(), ca: certs.otherCa })),
        works(connection({ ca: certs.ca, cert: certs.cert, key: certs.key })),
      ])).toEqual([false, false, false, false]);
      expect(await works(connection(full()))).toBe(true);
    });
  });
});
