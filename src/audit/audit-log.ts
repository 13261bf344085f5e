import type { Knex } from 'knex';
import { currentRequestContext, outsideRequestContext, shortenedUserAgent } from '../http/index.ts';
import { redactDetails } from './redact.ts';

/** Where an event came from. Read from the request being handled unless the record gives it. */
export interface AuditContext {
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

export interface AuditRecord {
  /** dotted event name, e.g. "user.created" (src/audit/event-types.ts) */
  type: string;
  /** who did it: the admin token's client_id, or an account id */
  actor: string | null;
  /** what it was done to: an account id, a client_id, a resource identifier, ... */
  subject?: string | null;
  clientId?: string | null;
  /** redacted before it is stored: no secrets, hashes or passwords; e-mails masked */
  details?: Record<string, unknown>;
  /** absent: the current request's (src/http/request-context.ts); null: none (startup, timers) */
  context?: AuditContext | null;
}

export interface AuditEvent {
  readonly id: string;
  readonly at: Date;
  readonly type: string;
  readonly actor: string | null;
  readonly subject: string | null;
  readonly clientId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
  readonly details: Record<string, unknown>;
}

export interface AuditFilter {
  /** any of these subjects (an account is known by its id and its username) */
  subjects?: string[];
  actor?: string;
  clientId?: string;
  /** any of these types (exact names) */
  types?: string[];
  /** one type (as `types: [type]`) */
  type?: string;
  /** at or after */
  since?: Date;
  /** before */
  until?: Date;
  limit: number;
  offset?: number;
  /** only events after this position in the order (newest first): `next` of the previous page */
  after?: string;
}

export interface AuditPage {
  events: AuditEvent[];
  /** where this page ended, when there are more: the next page's `after` */
  next?: string;
}

/** A position in the order: the event's time in microseconds since the epoch (exact, as stored), and its id. */
export const AUDIT_POSITION = /^(\d{1,17})\.([1-9]\d{0,18})$/;

interface AuditRow {
  id: string | number; at: Date | string; at_us?: string | number; type: string; actor: string | null; subject: string | null;
  client_id: string | null; ip: string | null; user_agent: string | null; request_id: string | null;
  details: Record<string, unknown> | string;
}

type NewRow = Omit<AuditRow, 'id'>;

/**
 * An enqueued row and how many identical events it stands for. Identical
 * events of one batch (same type, actor, subject, client, address, user agent
 * and details — a client taking token after token) are one row with a count:
 * a busy client would otherwise cost a row per token request.
 */
interface PendingRow { row: NewRow; count: number; lastAt: Date }

const sameEventKey = (row: NewRow) =>
  JSON.stringify([row.type, row.actor, row.subject, row.client_id, row.ip, row.user_agent, row.details]);

/** The row to write: with `count` and `last_at` in its details when it stands for several events. */
function rowToWrite({ row, count, lastAt }: PendingRow): NewRow {
  if (count === 1) return row;
  const details = { ...JSON.parse(row.details as unknown as string), count, last_at: lastAt.toISOString() };
  return { ...row, details: JSON.stringify(details) as unknown as Record<string, unknown> };
}

function toEvent(row: AuditRow): AuditEvent {
  return {
    id: String(row.id),
    at: new Date(row.at),
    type: row.type,
    actor: row.actor,
    subject: row.subject,
    clientId: row.client_id,
    ip: row.ip ?? null,
    userAgent: row.user_agent ?? null,
    requestId: row.request_id ?? null,
    details: typeof row.details === 'string' ? JSON.parse(row.details) : row.details,
  };
}

/** Postgres refuses NUL in text; a client-chosen value must not make an insert fail. */
const storable = (value: string | null | undefined, max = 512): string | null =>
  (value ? value.replaceAll('\u0000', '').slice(0, max) : null);

/** The row of a record, with its time and context taken now (an enqueued event is written later). */
function rowOf(event: AuditRecord): NewRow {
  const context = event.context === undefined ? currentRequestContext() : event.context;
  return {
    at: new Date(),
    type: event.type,
    actor: storable(event.actor, 2048),
    subject: storable(event.subject, 2048),
    client_id: storable(event.clientId, 2048),
    ip: storable(context?.ip, 64),
    user_agent: storable(shortenedUserAgent(context?.userAgent ?? undefined)),
    request_id: storable(context?.requestId, 64),
    details: JSON.stringify(redactDetails(event.details)) as unknown as Record<string, unknown>,
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;

/**
 * SQLSTATE class 22 (data exception: a character or value the column cannot
 * hold): the database refuses a row for what it holds, and would refuse it
 * again. Any other failure (connection, outage, a constraint) may pass on a retry.
 */
const refusedForContent = (error: unknown): boolean => /^22/.test(String((error as { code?: unknown } | undefined)?.code ?? ''));

/**
 * Runs in the transaction that stores an event (the webhook outbox queues its
 * deliveries here): the event and what follows from it commit together.
 */
export type AfterEventRecorded = (trx: Knex.Transaction, event: { id: string; type: string }) => Promise<void>;

export interface AuditLogOptions {
  afterRecorded?: AfterEventRecorded;
  /** enqueued events are written at most this long after they happen (default 250 ms) */
  flushDelayMs?: number;
  /** rows per insert (default 200) */
  batchSize?: number;
  /** enqueued events held while the database refuses them; beyond, new ones are dropped (default 10 000) */
  maxBuffered?: number;
  /** a batch could not be written (it is retried) or events were dropped (`lost`) */
  onWriteError?: (error: Error, lost: number) => void;
  /** sees every event as it is given to the log, before it is written (the metrics count sign-in failures here); must not throw */
  observe?: (event: AuditRecord) => void;
}

/**
 * The audit trail in SQL (table audit_events): append-only, read newest first.
 *
 * Two ways in. `record` writes the event before it returns (admin actions
 * await it: an admin action whose event cannot be written fails). `enqueue`
 * is for events on the request path — sign-ins, issued tokens — which must not
 * cost the request a round trip to the database: they are kept in memory and
 * written in batches (one multi-row insert per transaction) at most
 * `flushDelayMs` later, and by `close()`. A crash loses what was enqueued
 * and not yet written: at most the last `flushDelayMs` of such events.
 */
export function createAuditLog(knex: Knex, options: AuditLogOptions = {}) {
  const { afterRecorded } = options;
  const flushDelayMs = options.flushDelayMs ?? 250;
  const batchSize = options.batchSize ?? 200;
  const maxBuffered = options.maxBuffered ?? 10_000;
  const reportError = options.onWriteError ?? (() => {});
  const observe = options.observe ?? (() => {});
  const table = () => knex<AuditRow>('audit_events');

  async function insert(rows: NewRow[]): Promise<void> {
    if (!afterRecorded) {
      await table().insert(rows);
      return;
    }
    await knex.transaction(async (trx) => {
      const stored = await trx<AuditRow>('audit_events').insert(rows).returning(['id', 'type']);
      for (const row of stored) await afterRecorded(trx, { id: String(row.id), type: row.type });
    });
  }

  let buffer: PendingRow[] = [];
  /** rows still in the buffer by sameEventKey, for counting identical events into them */
  let coalescing = new Map<string, PendingRow>();
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  let closed = false;

  // The timer and the writes serve every request whose events are in the batch,
  // so they run outside any one request's context (what afterRecorded starts too).
  const schedule = (delay: number) => {
    if (timer || closed) return;
    timer = outsideRequestContext(() => setTimeout(() => { void flush(); }, delay));
    timer.unref();
  };

  /** Keeps rows, in order, for the next attempt, as far as the bound allows. */
  function keepForRetry(rows: PendingRow[], error: Error): void {
    const kept = rows.slice(0, Math.max(0, maxBuffered - buffer.length));
    buffer = [...kept, ...buffer];
    reportError(error, rows.length - kept.length);
    schedule(Math.max(flushDelayMs, 1000));
  }

  /**
   * A batch the database refused for what one of its rows holds: each row
   * alone, so that row does not hold back every event queued with and after
   * it (retried together, they would fail together for ever). A row refused
   * alone is dropped and reported lost. False when the database fails for
   * another reason meanwhile: the rest is kept for the next attempt.
   */
  async function writeOneByOne(rows: PendingRow[]): Promise<boolean> {
    for (let i = 0; i < rows.length; i++) {
      try {
        await insert([rowToWrite(rows[i])]);
      } catch (error) {
        if (refusedForContent(error)) {
          reportError(error as Error, 1);
          continue;
        }
        keepForRetry(rows.slice(i), error as Error);
        return false;
      }
    }
    return true;
  }

  async function writeBuffered(): Promise<void> {
    while (buffer.length) {
      const rows = buffer.splice(0, batchSize);
      // rows on their way to the database take no more counts
      coalescing = new Map();
      try {
        await insert(rows.map(rowToWrite));
      } catch (error) {
        if (!refusedForContent(error)) {
          keepForRetry(rows, error as Error);
          return;
        }
        if (!await writeOneByOne(rows)) return;
      }
    }
  }

  /** Writes what is enqueued now; resolves when it is written or has failed (and is kept for a retry). */
  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    writing = outsideRequestContext(() => writing.then(writeBuffered));
    return writing;
  }

  return {
    /** Writes the event now (in its own transaction, with afterRecorded); rejects when it cannot. */
    async record(event: AuditRecord): Promise<void> {
      observe(event);
      await insert([rowOf(event)]);
    },

    /**
     * Records the event unless the latest event of its type has the same
     * `details[key]`: for a state that every instance observes at start (the
     * signing keys), recorded once per change. A lock makes instances that
     * start together record it once. Returns whether it was recorded.
     */
    async recordChange(event: AuditRecord, key: string): Promise<boolean> {
      const row = rowOf(event);
      return knex.transaction(async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`tessera.audit.${event.type}`]);
        const latest = await trx<AuditRow>('audit_events').select('details').where('type', event.type).orderBy('id', 'desc').first();
        const before = latest ? toEvent({ ...latest, id: 0 } as AuditRow).details[key] : undefined;
        const now = (JSON.parse(row.details as unknown as string) as Record<string, unknown>)[key];
        if (JSON.stringify(before) === JSON.stringify(now)) return false;
        const [stored] = await trx<AuditRow>('audit_events').insert(row).returning(['id']);
        await afterRecorded?.(trx, { id: String(stored.id), type: event.type });
        return true;
      });
    },

    /**
     * After an account is erased: its id stays in the events (a random id that
     * names no one once the account is gone), but the username, e-mail and
     * name their details recorded about it are removed. The one change the
     * append-only log allows, for the erasure of a person's data.
     */
    async forgetPersonalDetails(subject: string): Promise<void> {
      await flush();
      await knex.raw("update audit_events set details = details - 'username' - 'email' - 'name' where subject = ?", [subject]);
    },

    /** Keeps the event to be written within flushDelayMs, without waiting (the request path). */
    enqueue(event: AuditRecord): void {
      observe(event);
      if (buffer.length >= maxBuffered || closed) {
        reportError(new Error(closed ? 'audit log closed' : 'audit buffer full'), 1);
        return;
      }
      const row = rowOf(event);
      const key = sameEventKey(row);
      const same = coalescing.get(key);
      if (same) {
        same.count += 1;
        same.lastAt = row.at as Date;
        return;
      }
      const pending = { row, count: 1, lastAt: row.at as Date };
      coalescing.set(key, pending);
      buffer.push(pending);
      if (buffer.length >= batchSize) void flush();
      else schedule(flushDelayMs);
    },

    flush,

    /** Writes what is enqueued; enqueue refuses from now on. */
    async close(): Promise<void> {
      await flush();
      closed = true;
      clearTimeout(timer);
      if (buffer.length) reportError(new Error('audit events not written at shutdown'), buffer.length);
      buffer = [];
      coalescing = new Map();
    },

    /**
     * Newest first (by time, then id: batched events get their ids when they
     * are written, after events that happened later may have); `next` when
     * there are more. Pages are keyset pages: events written while someone
     * pages through never shift the pages still to come, so each event that
     * existed is seen once.
     */
    async page(filter: AuditFilter): Promise<AuditPage> {
      // the time as stored (microseconds): a millisecond Date would misplace rows between two pages
      const query = table().select('*', knex.raw('(extract(epoch from at) * 1000000)::bigint::text as at_us'))
        .orderBy([{ column: 'at', order: 'desc' }, { column: 'id', order: 'desc' }]);
      if (filter.subjects?.length) query.whereIn('subject', filter.subjects);
      if (filter.actor) query.where('actor', filter.actor);
      if (filter.clientId) query.where('client_id', filter.clientId);
      const types = [...(filter.types ?? []), ...(filter.type ? [filter.type] : [])];
      if (types.length) query.whereIn('type', types);
      if (filter.since) query.where('at', '>=', filter.since);
      if (filter.until) query.where('at', '<', filter.until);
      if (filter.after) {
        const position = AUDIT_POSITION.exec(filter.after);
        if (!position) throw new Error('not an audit position');
        query.whereRaw("(at, id) < (timestamptz 'epoch' + ?::bigint * interval '1 microsecond', ?::bigint)", [position[1], position[2]]);
      }
      if (filter.offset) query.offset(filter.offset);
      // one more than asked: whether there is a next page
      const rows = await query.limit(filter.limit + 1);
      const events = rows.slice(0, filter.limit).map(toEvent);
      const last = rows[filter.limit - 1];
      return { events, next: rows.length > filter.limit ? `${last.at_us}.${last.id}` : undefined };
    },

    async list(filter: AuditFilter): Promise<AuditEvent[]> {
      return (await this.page(filter)).events;
    },

    /**
     * Deletes events older than `cutoff`, in chunks (no long lock on the table).
     * Events still referenced by another table (the webhook outbox and its
     * delivery log reference audit_events.id) are kept until those rows go:
     * the references are read from the catalog, so the purge never fails on a
     * foreign key whichever ON DELETE rule that table chose.
     */
    async purgeOlderThan(cutoff: Date, chunk = 5000): Promise<number> {
      // regclass::text and quote_ident give identifiers as SQL spells them (quoted where needed)
      const references = await knex.raw<{ rows: Array<{ table_name: string; column_name: string }> }>(`
        select c.conrelid::regclass::text as table_name, quote_ident(a.attname) as column_name
          from pg_constraint c
          join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)
         where c.contype = 'f' and c.confrelid = 'audit_events'::regclass`);
      let purged = 0;
      for (;;) {
        const candidates = table().select('id').where('at', '<', cutoff).orderBy('id').limit(chunk);
        for (const ref of references.rows) {
          candidates.whereNotExists(knex.select(knex.raw('1')).from(knex.raw(ref.table_name)).where(knex.raw(`${ref.table_name}.${ref.column_name} = audit_events.id`)));
        }
        // the ids deleted, counted here: PGlite's knex driver reports no row count for a delete
        const deleted = (await table().whereIn('id', candidates).delete().returning('id')).length;
        purged += deleted;
        if (!(deleted >= chunk)) return purged;
      }
    },
  };
}
