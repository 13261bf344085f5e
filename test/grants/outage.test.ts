import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService } from '../support/services.ts';
import { redisBinariesInstalled, startRedisServer } from '../support/redis-cluster.ts';
import { GENEROUS_LOCKOUT, sleep } from './helpers.ts';
import { type ClientCredentials, passwordGrant } from '../support/oauth.ts';

const PASSWORD = 'correct horse battery staple';

describeWithService('redis-server', await redisBinariesInstalled())('password grant while its Redis is down', () => {
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  let server: TestServer;
  let app: ClientCredentials;
  beforeAll(async () => {
    redis = await startRedisServer();
    server = await startTestServer({ redis: true, config: { redis: { url: `redis://127.0.0.1:${redis.port}` }, lockout: GENEROUS_LOCKOUT } });
    app = await server.createClient({ name: 'app', firstParty: true, grantTypes: ['password'], scopes: ['openid'] });
    await server.createUser({ username: 'alice', password: PASSWORD });
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
  });

  test('answers 503 with Retry-After (never 500), and works again once Redis is back', async () => {
    expect((await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD })).status).toBe(200);

    await redis.stop();
    const down = await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD });
    expect(down.status).toBe(503);
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(down.body.error).toBe('temporarily_unavailable');

    redis = await startRedisServer(redis.port);
    let status = 0;
    for (let deadline = Date.now() + 15_000; status !== 200 && Date.now() < deadline; await sleep(250)) {
      status = (await passwordGrant(server.url, app, { username: 'alice', password: PASSWORD })).status;
    }
    expect(status).toBe(200);
  });
});
