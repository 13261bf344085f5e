import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { randomBytes } from 'node:crypto';
import { describeWithService, postgresUp, POSTGRES_URL } from '../support/services.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { createDatabase, migrateToLatest, type Database } from '../../src/db/index.ts';
import { createAuditLog } from '../../src/audit/index.ts';
import { currentRequestContext, runWithRequestContext } from '../../src/http/index.ts';

// The audit log itself: batches, cursor pages, the export, retention, and the
// admin API's refusals. On embedded PGlite and on Postgres.

function suite(name: string, database: 'memory' | 'postgres') {
  describe(name, () => {
    let server: TestServer;
    let token: string;
    beforeAll(async () => {
      server = await startTestServer({ database });
      token = await adminToken(server);
    });
    afterAll(async () => { await server?.stop(); });

    const record = (type: string, n: number, extra: Record<string, unknown> = {}) =>
      server.services.audit.record({ type, actor: `actor-${n % 3}`, subject: `subject-${n}`, clientId: `client-${n % 2}`, details: { n }, context: null, ...extra });

    test('cursor pages visit every event exactly once while new events are being added', async () => {
      for (let n = 0; n < 25; n++) await record('test.paged', n);
      // times out of id order and with microseconds (rows written by now(), batches written late)
      await server.db.knex.raw("update audit_events set at = now() - random() * interval '1 hour' where type = 'test.paged'");
      await server.db.knex.raw("update audit_events set at = (select max(at) from audit_events where type = 'test.paged') where id in (select id from audit_events where type = 'test.paged' order by id limit 3)");
      const existing = (await server.db.knex('audit_events').where({ type: 'test.paged' }).select('id')).map((row) => String(row.id));

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const answer = await call(server, token, 'GET', `/audit?type=test.paged&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
        expect(answer.status).toBe(200);
        seen.push(...answer.body.items.map((item: { id: string }) => item.id));
        cursor = answer.body.next_cursor;
        // new events arrive while someone pages through
        await record('test.paged', 100 + pages);
        pages++;
      } while (cursor);

      expect(pages).toBe(4);
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort()).toEqual([...existing].sort());
      // newest first, by the time as stored (ties: the higher id first)
      const stored = await server.db.knex('audit_events').where({ type: 'test.paged' }).whereIn('id', existing)
        .orderBy([{ column: 'at', order: 'desc' }, { column: 'id', order: 'desc' }]).select('id');
      expect(seen).toEqual(stored.map((row) => String(row.id)));
    });

    test('filters: actor, client, several types, since and until', async () => {
      const before = new Date();
      await record('test.filter.a', 1);
      await record('test.filter.b', 2);
      await record('test.filter.c', 3);
      const after = new Date(Date.now() + 1000);
      const both = await call(server, token, 'GET', '/audit?type=test.filter.a,test.filter.b');
      expect(both.body.items.map((e: { type: string }) => e.type)).toEqual(['test.filter.b', 'test.filter.a']);
      const byActor = await call(server, token, 'GET', '/audit?type=test.filter.a,test.filter.b,test.filter.c&actor=actor-1');
      expect(byActor.body.items.map((e: { subject: string }) => e.subject)).toEqual(['subject-1']);
      const byClient = await call(server, token, 'GET', `/audit?type=test.filter.a,test.filter.b,test.filter.c&client=client-0`);
      expect(byClient.body.items.map((e: { subject: string }) => e.subject)).toEqual(['subject-2']);
      const inWindow = await call(server, token, 'GET', `/audit?type=test.filter.c&since=${encodeURIComponent(before.toISOString())}&until=${encodeURIComponent(after.toISOString())}`);
      expect(inWindow.body.items).toHaveLength(1);
      const beforeWindow = await call(server, token, 'GET', `/audit?type=test.filter.c&until=${encodeURIComponent(before.toISOString())}`);
      expect(beforeWindow.body.items).toEqual([]);
    });

    test('bad filters are refused with problem+json naming the field', async () => {
      const cases: Array<[string, string]> = [
        ['type=user.created;drop', 'type'],
        ['since=2020-13-45', 'since'],
        ['until=yesterday', 'until'],
        ['cursor=not-a-cursor', 'cursor'],
        [`cursor=${Buffer.from('a1:0').toString('base64url')}`, 'cursor'],
        ['limit=0', 'limit'],
        ['colour=blue', 'colour'],
        ['cursor=YTE6MQ&offset=5', 'offset'],
      ];
      for (const [query, field] of cases) {
        const answer = await call(server, token, 'GET', `/audit?${query}`);
        expect([query, answer.status]).toEqual([query, 400]);
        expect(answer.headers.get('content-type')).toMatch(/application\/problem\+json/);
        expect(answer.body.errors.map((e: { field: string }) => e.field).join(' ')).toContain(field);
        expect(JSON.stringify(answer.body)).not.toMatch(/\n\s+at /);
      }
      const exported = await call(server, token, 'GET', '/audit/export?limit=5');
      expect(exported.status).toBe(400);
      expect(exported.body.errors[0].field).toContain('limit');
    });

    test('the export streams every matching event as JSON lines, across its internal pages', async () => {
      for (let n = 0; n < 1203; n++) server.services.audit.enqueue({ type: 'test.exported', actor: 'exporter', subject: `s-${n}`, details: { n }, context: null });
      await server.services.audit.flush();
      const res = await fetch(`${server.url}/admin/v1/audit/export?type=test.exported`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      const text = await res.text();
      expect(text.endsWith('\n')).toBe(true);
      const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line));
      expect(lines).toHaveLength(1203);
      expect(new Set(lines.map((e) => e.id)).size).toBe(1203);
      expect(lines.every((e) => e.type === 'test.exported' && e.actor === 'exporter')).toBe(true);
      expect(lines[0].details.n).toBe(1202); // newest first
    });

    test('retention purges old events and keeps those another table still refers to', async () => {
      const knex = server.db.knex;
      await record('test.retention', 1);
      await record('test.retention', 2);
      await record('test.retention', 3);
      const ids = (await knex('audit_events').where({ type: 'test.retention' }).orderBy('id').select('id')).map((row) => String(row.id));
      await knex('audit_events').whereIn('id', ids.slice(0, 2)).update({ at: new Date(Date.now() - 400 * 86_400_000) });
      // as the webhook outbox does: a row referring to an event, without ON DELETE CASCADE
      await knex.schema.createTable('test_event_refs', (t) => { t.bigInteger('event_id').references('id').inTable('audit_events'); });
      try {
        await knex('test_event_refs').insert({ event_id: ids[1] });
        const purged = await server.services.audit.purgeOlderThan(new Date(Date.now() - server.config.audit.retentionDays * 86_400_000));
        expect(purged).toBe(1);
        const left = (await knex('audit_events').where({ type: 'test.retention' }).orderBy('id').select('id')).map((row) => String(row.id));
        expect(left).toEqual(ids.slice(1));
      } finally {
        await knex.schema.dropTable('test_event_refs');
      }
    });

    test('an admin action whose event cannot be written fails with problem+json, no stack', async () => {
      const knex = server.db.knex;
      await knex.raw("alter table audit_events add constraint test_refuse_user_created check (type <> 'user.created') not valid");
      try {
        const answer = await call(server, token, 'POST', '/users', { username: 'unaudited', password: 'unaudited password 1' });
        expect(answer.status).toBe(500);
        expect(answer.headers.get('content-type')).toMatch(/application\/problem\+json/);
        expect(JSON.stringify(answer.body)).not.toMatch(/\n\s+at |check constraint|audit_events/);
      } finally {
        await knex.raw('alter table audit_events drop constraint test_refuse_user_created');
      }
    });
  });
}

suite('the audit log on embedded PGlite', 'memory');
describeWithService('Postgres', await postgresUp())('the audit log on Postgres', () => {
  suite('the audit log on Postgres', 'postgres');
});

describe('batched writes', () => {
  let db: Database;
  beforeAll(async () => {
    db = await createDatabase({ inMemory: true });
    await migrateToLatest(db.knex);
  });
  afterAll(async () => { await db?.close(); });

  test('enqueued events are written in multi-row batches, each handed to afterRecorded in the same transaction, with the context of their request', async () => {
    const seen: Array<{ id: string; type: string; inTransaction: boolean }> = [];
    const audit = createAuditLog(db.knex, {
      batchSize: 4,
      flushDelayMs: 60_000,
      afterRecorded: async (trx, event) => {
        // a batch serves many requests: what it starts lends none of them its address
        expect(currentRequestContext()).toBeUndefined();
        seen.push({ ...event, inTransaction: trx.isTransaction === true });
      },
    });
    runWithRequestContext({ ip: '192.0.2.9', userAgent: 'x'.repeat(2000), requestId: 'req-batch-0001' }, () => {
      for (let n = 0; n < 10; n++) audit.enqueue({ type: 'test.batched', actor: null, details: { n, password: 'never stored', email: 'someone@example.com' } });
    });
    await audit.close();
    const rows = await db.knex('audit_events').where({ type: 'test.batched' }).orderBy('id');
    expect(rows).toHaveLength(10);
    expect(seen.map((e) => e.id)).toEqual(rows.map((row) => String(row.id)));
    expect(seen.every((e) => e.inTransaction && e.type === 'test.batched')).toBe(true);
    expect(rows[0]).toMatchObject({ ip: '192.0.2.9', request_id: 'req-batch-0001' });
    expect(rows[0].user_agent).toHaveLength(512);
    expect(JSON.stringify(rows)).not.toContain('never stored');
    expect(rows[0].details.email).toBe('s***@example.com');
    // closed: further events are refused, not lost silently
    const lost: number[] = [];
    const closed = createAuditLog(db.knex, { onWriteError: (_error, n) => { lost.push(n); } });
    await closed.close();
    closed.enqueue({ type: 'test.batched', actor: null });
    expect(lost).toEqual([1]);
  });

  test('identical events of one batch are one row with their count; any difference (details, subject, address) is a row of its own', async () => {
    const audit = createAuditLog(db.knex, { flushDelayMs: 60_000 });
    const issued = (subject: string, scope: string) => ({ type: 'test.coalesced', actor: 'busy-client', subject, clientId: 'busy-client', details: { grant_type: 'client_credentials', scope } });
    runWithRequestContext({ ip: '192.0.2.10', userAgent: 'load generator', requestId: 'req-first' }, () => {
      for (let n = 0; n < 5; n++) audit.enqueue(issued('s-1', 'read'));
      audit.enqueue(issued('s-1', 'read write'));
      audit.enqueue(issued('s-2', 'read'));
    });
    runWithRequestContext({ ip: '192.0.2.11', userAgent: 'load generator', requestId: 'req-other-address' }, () => {
      audit.enqueue(issued('s-1', 'read'));
    });
    await audit.flush();
    // a later batch starts afresh
    audit.enqueue({ ...issued('s-1', 'read'), context: { ip: '192.0.2.10', userAgent: 'load generator', requestId: 'req-later' } });
    await audit.close();
    const rows = await db.knex('audit_events').where({ type: 'test.coalesced' }).orderBy('id');
    expect(rows.map((r) => [r.subject, r.details.scope, r.ip, r.details.count ?? 1, r.request_id])).toEqual([
      ['s-1', 'read', '192.0.2.10', 5, 'req-first'],
      ['s-1', 'read write', '192.0.2.10', 1, 'req-first'],
      ['s-2', 'read', '192.0.2.10', 1, 'req-first'],
      ['s-1', 'read', '192.0.2.11', 1, 'req-other-address'],
      ['s-1', 'read', '192.0.2.10', 1, 'req-later'],
    ]);
    expect(new Date(rows[0].details.last_at).getTime()).toBeGreaterThanOrEqual(new Date(rows[0].at).getTime());
  });

  test('a batch the database refuses is kept and written by a later flush', async () => {
    const errors: string[] = [];
    const audit = createAuditLog(db.knex, { flushDelayMs: 60_000, onWriteError: (error) => { errors.push(error.message); } });
    await db.knex.raw("alter table audit_events add constraint test_refuse_retry check (type <> 'test.retry') not valid");
    audit.enqueue({ type: 'test.retry', actor: null, context: null });
    await audit.flush();
    expect(errors).toHaveLength(1);
    await db.knex.raw('alter table audit_events drop constraint test_refuse_retry');
    await audit.close();
    expect(await db.knex('audit_events').where({ type: 'test.retry' })).toHaveLength(1);
  });
});

// T174: a NUL (Postgres refuses it in JSON) in one event's details failed its
// whole batch, kept for a retry that failed the same way: every event queued
// behind it (other requests', other clients') never reached the log.
describe.each([
  ['embedded PGlite', true],
  ['Postgres', false],
] as const)('an event whose details hold a NUL, on %s', (_name, inMemory) => {
  let db: Database | undefined;
  const schema = `t_audit_nul_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    if (!inMemory && !(await postgresUp())) return;
    db = await createDatabase(inMemory ? { inMemory: true } : { databaseUrl: POSTGRES_URL, schema });
    await migrateToLatest(db.knex);
  });
  afterAll(async () => {
    if (db && !inMemory) await db.knex.raw('drop schema if exists ?? cascade', [schema]);
    await db?.close();
  });

  test('is written without the NUL, and the events queued with it are written too', async () => {
    if (!db) return;
    const errors: string[] = [];
    const audit = createAuditLog(db.knex, { flushDelayMs: 60_000, onWriteError: (error) => { errors.push(error.message); } });
    const marker = `nul-${Date.now()}-${Math.random()}`;
    audit.enqueue({ type: 'test.nul', actor: null, subject: marker, context: null, details: { audience: 'https://x.test/\u0000', 'odd\u0000key': ['a\u0000b'] } });
    audit.enqueue({ type: 'test.nul.after', actor: null, subject: marker, context: null, details: { n: 1 } });
    await audit.flush();
    await audit.close();
    expect(errors).toEqual([]);
    const rows = await db.knex('audit_events').where({ subject: marker }).orderBy('id');
    expect(rows.map((row) => [row.type, row.details])).toEqual([
      ['test.nul', { audience: 'https://x.test/', oddkey: ['ab'] }],
      ['test.nul.after', { n: 1 }],
    ]);
  });
});

// A row the database refuses for what it holds (here: the outbox step that runs
// in its transaction makes Postgres refuse a NUL in JSON, SQLSTATE 22P05) must
// not hold back the events batched with it: they are written one by one and
// only the refused one is dropped, reported as lost.
describe.each([
  ['embedded PGlite', true],
  ['Postgres', false],
] as const)('a batch with one row the database refuses, on %s', (_name, inMemory) => {
  let db: Database | undefined;
  const schema = `t_audit_poison_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    if (!inMemory && !(await postgresUp())) return;
    db = await createDatabase(inMemory ? { inMemory: true } : { databaseUrl: POSTGRES_URL, schema });
    await migrateToLatest(db.knex);
  });
  afterAll(async () => {
    if (db && !inMemory) await db.knex.raw('drop schema if exists ?? cascade', [schema]);
    await db?.close();
  });

  test('the others are written, in order; the refused one is reported lost, once', async () => {
    if (!db) return;
    const lost: Array<{ code: unknown; lost: number }> = [];
    const audit = createAuditLog(db.knex, {
      flushDelayMs: 60_000,
      onWriteError: (error, count) => { lost.push({ code: (error as { code?: unknown }).code, lost: count }); },
      afterRecorded: async (trx, event) => { if (event.type === 'test.poison') await trx.raw(`select '"\\u0000"'::jsonb`); },
    });
    const marker = `poison-${Date.now()}-${Math.random()}`;
    for (const type of ['test.before', 'test.poison', 'test.after']) audit.enqueue({ type, actor: null, subject: marker, context: null, details: {} });
    await audit.flush();
    audit.enqueue({ type: 'test.later', actor: null, subject: marker, context: null, details: {} });
    await audit.flush();
    await audit.close();
    const rows = await db.knex('audit_events').where({ subject: marker }).orderBy('id');
    expect(rows.map((row) => row.type)).toEqual(['test.before', 'test.after', 'test.later']);
    expect(lost).toEqual([{ code: '22P05', lost: 1 }]);
  });
});

describe('the address an event records is the one the trusted proxies report, never one a client wrote', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['no proxy trusted: X-Forwarded-For is ignored', {}, '127.0.0.1'],
    ['the peer is a trusted proxy: the address it forwarded', { proxy: { addresses: ['127.0.0.1'] } }, '203.0.113.7'],
  ];
  test.each(cases)('%s', async (_name, config, expected) => {
    const server = await startTestServer({ config });
    try {
      const client = await server.createClient({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['openid'] } as never);
      const answer = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': '203.0.113.7',
        },
        body: 'grant_type=client_credentials',
      });
      expect(answer.status).toBe(200);
      await server.services.audit.flush();
      const [issued] = await server.db.knex('audit_events').where({ type: 'token.issued' });
      expect(issued.ip).toBe(expected);
    } finally {
      await server.stop();
    }
  });
});
