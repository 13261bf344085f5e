import type { Knex } from 'knex';
import { redactDetails } from './redact.ts';

export interface AuditRecord {
  /** dotted event name, e.g. "user.created" */
  type: string;
  /** who did it: the admin token's client_id, or an account id */
  actor: string | null;
  /** what it was done to: an account id, a client_id, a resource identifier, ... */
  subject?: string | null;
  clientId?: string | null;
  /** redacted before it is stored: no secrets, hashes or passwords; e-mails masked */
  details?: Record<string, unknown>;
}

export interface AuditEvent {
  readonly id: string;
  readonly at: Date;
  readonly type: string;
  readonly actor: string | null;
  readonly subject: string | null;
  readonly clientId: string | null;
  readonly details: Record<string, unknown>;
}

export interface AuditFilter {
  /** any of these subjects (an account is known by its id and its username) */
  subjects?: string[];
  actor?: string;
  type?: string;
  since?: Date;
  limit: number;
  offset: number;
}

interface AuditRow {
  id: string | number; at: Date | string; type: string; actor: string | null; subject: string | null;
  client_id: string | null; details: Record<string, unknown> | string;
}

function toEvent(row: AuditRow): AuditEvent {
  return {
    id: String(row.id),
    at: new Date(row.at),
    type: row.type,
    actor: row.actor,
    subject: row.subject,
    clientId: row.client_id,
    details: typeof row.details === 'string' ? JSON.parse(row.details) : row.details,
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;

/**
 * Runs in the transaction that stores an event (the webhook outbox queues its
 * deliveries here): the event and what follows from it commit together.
 */
export type AfterEventRecorded = (trx: Knex.Transaction, event: { id: string; type: string }) => Promise<void>;

/** The audit trail in SQL (table audit_events): append-only, read newest first. */
export function createAuditLog(knex: Knex, options: { afterRecorded?: AfterEventRecorded } = {}) {
  const table = () => knex<AuditRow>('audit_events');
  return {
    async record(event: AuditRecord): Promise<void> {
      const row = {
        type: event.type,
        actor: event.actor,
        subject: event.subject ?? null,
        client_id: event.clientId ?? null,
        details: JSON.stringify(redactDetails(event.details)) as unknown as Record<string, unknown>,
      };
      const { afterRecorded } = options;
      if (!afterRecorded) {
        await table().insert(row);
        return;
      }
      await knex.transaction(async (trx) => {
        const [stored] = await trx<AuditRow>('audit_events').insert(row).returning(['id']);
        await afterRecorded(trx, { id: String(stored.id), type: event.type });
      });
    },

    /**
     * After an account is erased: its id stays in the events (a random id that
     * names no one once the account is gone), but the username, e-mail and
     * name their details recorded about it are removed. The one change the
     * append-only log allows, for the erasure of a person's data.
     */
    async forgetPersonalDetails(subject: string): Promise<void> {
      await knex.raw("update audit_events set details = details - 'username' - 'email' - 'name' where subject = ?", [subject]);
    },

    async list(filter: AuditFilter): Promise<AuditEvent[]> {
      const query = table().orderBy([{ column: 'at', order: 'desc' }, { column: 'id', order: 'desc' }]);
      if (filter.subjects?.length) query.whereIn('subject', filter.subjects);
      if (filter.actor) query.where('actor', filter.actor);
      if (filter.type) query.where('type', filter.type);
      if (filter.since) query.where('at', '>=', filter.since);
      const rows = await query.limit(filter.limit).offset(filter.offset);
      return rows.map(toEvent);
    },
  };
}
