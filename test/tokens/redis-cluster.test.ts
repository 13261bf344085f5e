import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { Cluster } from 'ioredis';
import { createRedisClient } from '../../src/redis/index.ts';
import { createRedisTokenState } from '../../src/tokens/redis-token-state.ts';
import { describeWithService } from '../support/services.ts';
import { redisBinariesInstalled, startRedisCluster } from '../support/redis-cluster.ts';
import { dumpUnder, keysUnder } from '../support/redis-keys.ts';
import type { RunningCluster } from '../support/redis-cluster.ts';
import { adapterContract, expectRecoveredAfterRestart } from './adapter-contract.ts';

// The same contract on a 3-master cluster: random ids spread the keys over all
// slots, so any command touching two keys would fail here with CROSSSLOT.
const prefix = `test:tessera:${randomUUID()}:`;
let cluster: RunningCluster | undefined;
let client: Cluster;

const masters = () => client.nodes('master');
const quiet = () => {};

describeWithService('redis-server', await redisBinariesInstalled())('Redis token state (cluster, 3 masters)', () => {
  beforeAll(async () => { cluster = await startRedisCluster(); }, 60_000);

  adapterContract(
    async () => {
      client = createRedisClient({ cluster: { nodes: cluster!.nodes }, onError: quiet }) as Cluster;
      return createRedisTokenState(client, { prefix });
    },
    // The cluster is thrown away afterwards; closing the client is enough.
    async () => { await client.quit(); },
    () => dumpUnder(masters(), prefix),
  );
  // Declared after the contract so it runs after the contract's cleanup (jest
  // runs afterAll hooks in declaration order); the servers' watchdogs cover a
  // run that never gets here.
  afterAll(async () => { await cluster?.stop(); });

  test('keys are spread over every master, and each has a TTL', async () => {
    const perMaster = await Promise.all(masters().map((node) => keysUnder(node, prefix)));
    expect(perMaster).toHaveLength(3);
    for (const keys of perMaster) expect(keys.length).toBeGreaterThan(0);
    const withoutTtl = [];
    for (const [i, keys] of perMaster.entries()) {
      for (const key of keys) if (await masters()[i].pttl(key) <= 0) withoutTtl.push(key);
    }
    expect(withoutTtl).toEqual([]);
  });

  // Last: the outage loses the cluster's data.
  test('while every master is down requests fail fast; the client recovers by itself', async () => {
    const state = createRedisTokenState(
      createRedisClient({ cluster: { nodes: cluster!.nodes }, onError: quiet }),
      { prefix },
    );
    try {
      await state.ping();
      await cluster!.down();
      for (const attempt of [() => state.ping(), () => state.denylist.has('jti'), () => state.grants.ofAccount('a')]) {
        const started = Date.now();
        await expect(attempt()).rejects.toThrow();
        expect(Date.now() - started).toBeLessThan(5000);
      }

      await cluster!.up();
      await expectRecoveredAfterRestart(state, () => state.denylist.has('jti'), 20_000);
    } finally {
      await state.close();
    }
  }, 60_000);
});
