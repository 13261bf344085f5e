/*
 * A change to a client (a delete, a new secret) is seen by every lookup that
 * starts after it has returned: in the process that made it, even while
 * lookups that started before are still under way, and at any other instance
 * sharing the database — for each way instances learn of changes (embedded:
 * one process; Postgres alone: the row's generation; Postgres and Redis:
 * announcements in Redis). Two repositories on one database are two instances.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { createClientRepository, digestClientSecret, sqlClientChanges, type ClientChangeLog, type ClientRepository, type NewClient } from '../../src/clients/index.ts';
import { createDatabase, migrateToLatest, type Database } from '../../src/db/index.ts';
import { createRedisClientChanges } from '../../src/tokens/redis-client-changes.ts';
import { POSTGRES_URL, REDIS_URL, describeWithService, postgresUp, redisUp } from '../support/services.ts';

const noValidation = async () => {};
const job = (secret?: string): NewClient => ({ name: 'job', grantTypes: ['client_credentials'], scopes: ['read'], ...(secret ? { clientSecret: secret } : {}) });

interface Instance { clients: ClientRepository; db: Database; sqlQueries(): number; close(): Promise<void> }

/** Lookups racing a delete in one instance: none that starts after the delete returned gets the client. */
function raceInOneInstance(instance: () => Instance) {
  test('lookups under way while a client is deleted do not bring it back', async () => {
    const { clients } = instance();
    for (let round = 0; round < 20; round++) {
      const { client } = await clients.create(job(), noValidation);
      // not cached yet: each of these reads the row, some of them before the delete commits
      const underWay = Array.from({ length: 10 }, () => clients.findProviderMetadata(client.clientId));
      expect(await clients.delete(client.clientId)).toBe(true);
      expect(await clients.findProviderMetadata(client.clientId)).toBeUndefined();
      await Promise.all(underWay);
      expect(await clients.findProviderMetadata(client.clientId)).toBeUndefined();
    }
  });
}

/** What another instance sees, at once, of a change made at the first. */
function acrossInstances(instances: () => [Instance, Instance], sqlQueriesPerCachedLookup: number) {
  test('a client deleted at A is unknown at B at once, although B had it cached', async () => {
    const [a, b] = instances();
    const { client } = await a.clients.create(job(), noValidation);
    expect(await b.clients.findProviderMetadata(client.clientId)).toBeDefined();
    expect(await b.clients.findProviderMetadata(client.clientId)).toBeDefined();
    await a.clients.delete(client.clientId);
    expect(await b.clients.findProviderMetadata(client.clientId)).toBeUndefined();
  });

  test('a new secret set at A replaces the old one at B at once; tokens of the old one are too old at B', async () => {
    const [a, b] = instances();
    const { client } = await a.clients.create(job('the first secret of this client, long enough'), noValidation);
    const before = await b.clients.findProviderMetadata(client.clientId);
    expect(before!.client_secret).toBe(digestClientSecret('the first secret of this client, long enough'));
    const issuedWithOldSecret = Math.floor(Date.now() / 1000);

    await a.clients.update(client.clientId, job('the second secret of this client, long enough'), noValidation);
    const after = await b.clients.findProviderMetadata(client.clientId);
    expect(after!.client_secret).toBe(digestClientSecret('the second secret of this client, long enough'));
    expect(after!.tokens_not_before).toBeGreaterThan(issuedWithOldSecret);
    // the change returned once the cut-off second had begun: a token issued now is not too old
    expect(Math.floor(Date.now() / 1000)).toBeGreaterThanOrEqual(after!.tokens_not_before as number);
  });

  test('an id deleted and created again is the new client at B, and B caches it again', async () => {
    const [a, b] = instances();
    const clientId = `reused-${randomBytes(6).toString('hex')}`;
    await a.clients.create({ ...job('the old incarnation of this client id'), clientId }, noValidation);
    expect(await b.clients.findProviderMetadata(clientId)).toBeDefined();
    await a.clients.delete(clientId);
    await a.clients.create({ ...job('the new incarnation of this client id!'), clientId }, noValidation);
    const renewed = await b.clients.findProviderMetadata(clientId);
    expect(renewed!.client_secret).toBe(digestClientSecret('the new incarnation of this client id!'));

    const queries = b.sqlQueries();
    expect(await b.clients.findProviderMetadata(clientId)).toBe(renewed);
    expect(b.sqlQueries() - queries).toBe(sqlQueriesPerCachedLookup);
  });
}

async function migratedPostgres(schema: string): Promise<Database> {
  const db = await createDatabase({ databaseUrl: POSTGRES_URL, schema });
  await migrateToLatest(db.knex);
  return db;
}

function instanceOn(db: Database, changes: ClientChangeLog | undefined, close: () => Promise<unknown> = async () => {}): Instance {
  let queries = 0;
  db.knex.on('query', () => { queries += 1; });
  return {
    clients: createClientRepository(db.knex, changes ? { changes } : {}),
    db,
    sqlQueries: () => queries,
    close: async () => { await close(); await db.close(); },
  };
}

describe('embedded PGlite (one process)', () => {
  let one: Instance;
  beforeAll(async () => {
    const db = await createDatabase({ inMemory: true });
    await migrateToLatest(db.knex);
    one = instanceOn(db, undefined);
  });
  afterAll(async () => { await one?.close(); });

  raceInOneInstance(() => one);

  test('a cached client costs no SQL', async () => {
    const { client } = await one.clients.create(job(), noValidation);
    const first = await one.clients.findProviderMetadata(client.clientId);
    const queries = one.sqlQueries();
    expect(await one.clients.findProviderMetadata(client.clientId)).toBe(first);
    expect(one.sqlQueries()).toBe(queries);
  });
});

const pgUp = await postgresUp();
const bothUp = pgUp && (await redisUp());

describeWithService('Postgres', pgUp)('Postgres without Redis: each lookup reads the generation', () => {
  const schema = `t_changes_${randomBytes(6).toString('hex')}`;
  let a: Instance;
  let b: Instance;
  beforeAll(async () => {
    const dbA = await migratedPostgres(schema);
    const dbB = await createDatabase({ databaseUrl: POSTGRES_URL, schema });
    a = instanceOn(dbA, sqlClientChanges(dbA.knex));
    b = instanceOn(dbB, sqlClientChanges(dbB.knex));
  });
  afterAll(async () => {
    await b?.close();
    await a?.db.knex.raw('drop schema if exists ?? cascade', [schema]);
    await a?.close();
  });

  raceInOneInstance(() => a);
  acrossInstances(() => [a, b], 1);
});

describeWithService('Postgres and Redis', bothUp)('Postgres and Redis: changes are announced in Redis', () => {
  const schema = `t_changes_${randomBytes(6).toString('hex')}`;
  const keyPrefix = `tessera-test:changes:${randomBytes(6).toString('hex')}:`;
  const redisClients: Redis[] = [];
  const redisClient = (options: { lazyConnect?: boolean } = {}) => {
    const client = new Redis(REDIS_URL, { keyPrefix, maxRetriesPerRequest: 1, enableAutoPipelining: true, ...options });
    redisClients.push(client);
    return client;
  };
  let a: Instance;
  let b: Instance;
  beforeAll(async () => {
    const dbA = await migratedPostgres(schema);
    const dbB = await createDatabase({ databaseUrl: POSTGRES_URL, schema });
    a = instanceOn(dbA, createRedisClientChanges(redisClient(), 'tessera:'));
    b = instanceOn(dbB, createRedisClientChanges(redisClient(), 'tessera:'));
  });
  afterAll(async () => {
    await b?.close();
    await a?.db.knex.raw('drop schema if exists ?? cascade', [schema]);
    await a?.close();
    const cleaner = new Redis(REDIS_URL);
    const keys = await cleaner.keys(`${keyPrefix}*`);
    if (keys.length) await cleaner.unlink(...keys);
    for (const client of [...redisClients, cleaner]) client.disconnect();
  });

  raceInOneInstance(() => a);
  acrossInstances(() => [a, b], 0);

  test('every announcement key expires', async () => {
    const { client } = await a.clients.create(job(), noValidation);
    await a.clients.delete(client.clientId);
    const raw = new Redis(REDIS_URL);
    redisClients.push(raw);
    const keys = await raw.keys(`${keyPrefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(await raw.pttl(key)).toBeGreaterThan(0);
  });

  test('a change whose announcement cannot be made is not made', async () => {
    const { client } = await a.clients.create(job('the secret that must stay in place!'), noValidation);
    const unreachable = redisClient({ lazyConnect: true });
    unreachable.disconnect();
    const cut = createClientRepository(a.db.knex, { changes: createRedisClientChanges(unreachable, 'tessera:') });
    await expect(cut.delete(client.clientId)).rejects.toThrow();
    await expect(cut.update(client.clientId, job('a secret that must not be stored!!!'), noValidation)).rejects.toThrow();
    expect(await a.clients.find(client.clientId)).toBeDefined();
    expect((await b.clients.findProviderMetadata(client.clientId))!.client_secret).toBe(digestClientSecret('the secret that must stay in place!'));
  });

  test('an instance that cannot read Redis does not answer from its copy, which it cannot check', async () => {
    const { client } = await a.clients.create(job(), noValidation);
    const redis = redisClient();
    const c = createClientRepository(b.db.knex, { changes: createRedisClientChanges(redis, 'tessera:') });
    expect(await c.findProviderMetadata(client.clientId)).toBeDefined();
    redis.disconnect();
    await a.clients.delete(client.clientId);
    await expect(c.findProviderMetadata(client.clientId)).rejects.toThrow();
  });
});
