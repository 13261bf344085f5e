import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { AfterEventRecorded } from './audit-log.ts';
import { newSigningSecret } from './webhook-signing.ts';
import { seal, unseal } from '../crypto/index.ts';

/*
 * Webhook subscriptions and their deliveries in SQL. The deliveries table is
 * both the outbox and the delivery log: `queueDeliveries` runs in the
 * transaction that stores an audit event (createAuditLog's afterRecorded), so
 * an event and its deliveries commit together and a queued delivery survives
 * a restart; the delivery worker (webhook-delivery.ts) claims due rows.
 */

export interface WebhookSubscription {
  readonly id: string;
  readonly url: string;
  readonly events: string[];
  readonly description: string | null;
  readonly disabled: boolean;
  readonly createdBy: string | null;
  readonly createdAt: Date;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  readonly id: string;
  readonly subscriptionId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: Date | null;
  readonly lastAttemptAt: Date | null;
  readonly lastStatusCode: number | null;
  readonly lastError: string | null;
  readonly deliveredAt: Date | null;
  readonly createdAt: Date;
}

/** A delivery the worker has claimed: what it needs to sign and send it. */
export interface ClaimedDelivery {
  readonly id: string;
  readonly attempts: number;
  readonly subscriptionId: string;
  readonly url: string;
  /** the signing secret, opened; never logged. Undefined when it does not open (another KEYS_DIR/webhook-key.json) */
  readonly secret: string | undefined;
  readonly event: { id: string; type: string; at: Date; actor: string | null; subject: string | null; clientId: string | null };
}

interface SubscriptionRow {
  id: string; url: string; events: string[] | string; secret_sealed: string; description: string | null;
  disabled: boolean; created_by: string | null; created_at: Date | string;
}

const date = (value: Date | string | null) => (value === null ? null : new Date(value));
const jsonOf = <T>(value: T | string): T => (typeof value === 'string' ? JSON.parse(value) : value);
const rowsOf = <T>(result: unknown): T[] => ((result as { rows?: T[] }).rows ?? (result as T[]));

function toSubscription(row: SubscriptionRow): WebhookSubscription {
  return {
    id: row.id, url: row.url, events: jsonOf(row.events), description: row.description, disabled: row.disabled,
    createdBy: row.created_by, createdAt: new Date(row.created_at),
  };
}

/** A secret this instance cannot open is a failed attempt of its delivery, not a failed claim of the whole batch. */
function openedOrUndefined(key: Buffer, sealed: string, subscriptionId: string): string | undefined {
  try { return unseal(key, sealed, subscriptionId); } catch { return undefined; }
}

export type WebhookRepository = ReturnType<typeof createWebhookRepository>;

export function createWebhookRepository(knex: Knex, options: { key: Buffer }) {
  const subscriptions = () => knex<SubscriptionRow>('webhook_subscriptions');
  const queuedListeners = new Set<() => void>();

  /**
   * One INSERT … SELECT in the event's transaction: a pending delivery for
   * every enabled subscription that lists the event's type.
   */
  const queueDeliveries: AfterEventRecorded = async (trx, event) => {
    const result = await trx.raw(
      `insert into webhook_deliveries (subscription_id, event_id)
       select id, ? from webhook_subscriptions where not disabled and events @> ?::jsonb
       returning id`,
      [event.id, JSON.stringify([event.type])],
    );
    if (!rowsOf(result).length) return;
    // the worker may look at once, but only after the commit (before it, the rows are invisible)
    const committed = (trx as unknown as { executionPromise?: Promise<unknown> }).executionPromise;
    committed?.then(() => { for (const listener of queuedListeners) listener(); }, () => {});
  };

  return {
    queueDeliveries,

    /** `listener` is called after a transaction that queued deliveries commits (in this process). */
    onQueued(listener: () => void): () => void {
      queuedListeners.add(listener);
      return () => queuedListeners.delete(listener);
    },

    /** Returns the subscription and its signing secret, which is never readable again. */
    async create(input: { url: string; events: string[]; description?: string; createdBy: string }): Promise<{ subscription: WebhookSubscription; secret: string }> {
      const id = randomUUID();
      const secret = newSigningSecret();
      const [row] = await subscriptions().insert({
        id,
        url: input.url,
        events: JSON.stringify(input.events) as unknown as string[],
        secret_sealed: seal(options.key, secret, id),
        description: input.description ?? null,
        created_by: input.createdBy,
      }).returning('*');
      return { subscription: toSubscription(row as SubscriptionRow), secret };
    },

    async list(page: { limit: number; offset: number }): Promise<WebhookSubscription[]> {
      const rows = await subscriptions().orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id' }]).limit(page.limit).offset(page.offset);
      return rows.map((row) => toSubscription(row as SubscriptionRow));
    },

    async find(id: string): Promise<WebhookSubscription | undefined> {
      const row = await subscriptions().where({ id }).first();
      return row && toSubscription(row as SubscriptionRow);
    },

    /** Its deliveries go with it (ON DELETE CASCADE): nothing more is sent to it. */
    async delete(id: string): Promise<boolean> {
      const deleted = await subscriptions().where({ id }).delete().returning('id');
      return deleted.length > 0;
    },

    /** The delivery log of one subscription, newest first. */
    async deliveries(subscriptionId: string, page: { limit: number; offset: number; status?: DeliveryStatus }): Promise<WebhookDelivery[]> {
      const query = knex('webhook_deliveries as d')
        .join('audit_events as e', 'e.id', 'd.event_id')
        .where('d.subscription_id', subscriptionId)
        .select('d.*', 'e.type as event_type')
        .orderBy('d.id', 'desc')
        .limit(page.limit).offset(page.offset);
      if (page.status) query.where('d.status', page.status);
      const rows = await query;
      return rows.map((row: Record<string, any>) => ({
        id: String(row.id),
        subscriptionId: row.subscription_id,
        eventId: String(row.event_id),
        eventType: row.event_type,
        status: row.status,
        attempts: row.attempts,
        nextAttemptAt: row.status === 'pending' ? date(row.next_attempt_at) : null,
        lastAttemptAt: date(row.last_attempt_at),
        lastStatusCode: row.last_status_code,
        lastError: row.last_error,
        deliveredAt: date(row.delivered_at),
        createdAt: new Date(row.created_at),
      }));
    },

    /** A failed delivery goes back into the outbox with a fresh set of attempts. */
    async redeliver(subscriptionId: string, deliveryId: string): Promise<'queued' | 'not-found' | 'not-failed'> {
      if (!/^\d{1,18}$/.test(deliveryId)) return 'not-found';
      const updated = await knex('webhook_deliveries')
        .where({ id: deliveryId, subscription_id: subscriptionId, status: 'failed' })
        .update({ status: 'pending', attempts: 0, next_attempt_at: knex.fn.now() })
        .returning('id');
      if (updated.length) {
        for (const listener of queuedListeners) listener();
        return 'queued';
      }
      const exists = await knex('webhook_deliveries').where({ id: deliveryId, subscription_id: subscriptionId }).first('id');
      return exists ? 'not-failed' : 'not-found';
    },

    /**
     * Claims up to `limit` due deliveries for `leaseMs`: their next attempt is
     * moved past the lease and their attempt counted, in one short
     * transaction. Rows another instance is claiming at the same moment are
     * skipped (FOR UPDATE SKIP LOCKED), so no delivery is sent twice at once;
     * one whose sender died is due again when the lease ends (at least once).
     */
    async claimDue(limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
      const result = await knex.raw(
        `with due as (
           select d.id from webhook_deliveries d
           join webhook_subscriptions s on s.id = d.subscription_id
           where d.status = 'pending' and d.next_attempt_at <= now() and not s.disabled
           order by d.next_attempt_at, d.id
           limit ?
           for update of d skip locked
         )
         update webhook_deliveries d
            set attempts = d.attempts + 1,
                last_attempt_at = now(),
                next_attempt_at = now() + (? * interval '1 millisecond')
           from due, webhook_subscriptions s, audit_events e
          where d.id = due.id and s.id = d.subscription_id and e.id = d.event_id
         returning d.id, d.attempts, s.id as subscription_id, s.url, s.secret_sealed,
                   e.id as event_id, e.type, e.at, e.actor, e.subject, e.client_id`,
        [limit, leaseMs],
      );
      return rowsOf<Record<string, any>>(result).map((row) => ({
        id: String(row.id),
        attempts: row.attempts,
        subscriptionId: row.subscription_id,
        url: row.url,
        secret: openedOrUndefined(options.key, row.secret_sealed, row.subscription_id),
        event: { id: String(row.event_id), type: row.type, at: new Date(row.at), actor: row.actor, subject: row.subject, clientId: row.client_id },
      }));
    },

    async markDelivered(id: string, statusCode: number): Promise<void> {
      await knex('webhook_deliveries').where({ id }).update({
        status: 'delivered', last_status_code: statusCode, last_error: null, delivered_at: knex.fn.now(),
      });
    },

    /** A failed attempt: retried at `retryAt`, or given up (`failed`) when there is none. */
    async markAttemptFailed(id: string, outcome: { statusCode?: number; error: string; retryAt?: Date }): Promise<void> {
      await knex('webhook_deliveries').where({ id }).update({
        status: outcome.retryAt ? 'pending' : 'failed',
        last_status_code: outcome.statusCode ?? null,
        last_error: outcome.error.slice(0, 300),
        ...(outcome.retryAt ? { next_attempt_at: outcome.retryAt } : {}),
      });
    },

    /** An attempt cut short by shutdown: not counted, and due again at once (at the next start or at another instance). */
    async release(id: string): Promise<void> {
      await knex('webhook_deliveries').where({ id, status: 'pending' }).update({
        attempts: knex.raw('greatest(attempts - 1, 0)'), next_attempt_at: knex.fn.now(),
      });
    },
  };
}
