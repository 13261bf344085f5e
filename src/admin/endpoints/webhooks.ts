import { isAuditEventType, refusedUrl, type WebhookDelivery, type WebhookSubscription } from '../../audit/index.ts';
import { AdminProblem, iso, notFound, page, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { pathId } from '../schemas/common.ts';
import { listQuerySchema } from '../schemas/users.ts';
import {
  createdWebhookSchema, createWebhookSchema, deliveriesQuerySchema, webhookDeliverySchema, webhookSchema, type CreateWebhookBody,
} from '../schemas/webhooks.ts';

export const webhookView = (subscription: WebhookSubscription) => ({
  id: subscription.id,
  url: subscription.url,
  events: subscription.events,
  description: subscription.description,
  disabled: subscription.disabled,
  created_by: subscription.createdBy,
  created_at: iso(subscription.createdAt),
});

const deliveryView = (delivery: WebhookDelivery) => ({
  id: delivery.id,
  event_id: delivery.eventId,
  event_type: delivery.eventType,
  status: delivery.status,
  attempts: delivery.attempts,
  next_attempt_at: iso(delivery.nextAttemptAt),
  last_attempt_at: iso(delivery.lastAttemptAt),
  last_status_code: delivery.lastStatusCode,
  last_error: delivery.lastError,
  delivered_at: iso(delivery.deliveredAt),
  created_at: iso(delivery.createdAt),
});

/** Signed event webhooks: subscriptions to audit event types, and their delivery log. */
export function webhookRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { webhooks, audit } = deps.services;
  const tag = 'webhooks';
  const params = { id: pathId };

  return [
    {
      method: 'post', path: '/webhooks', tag, summary: 'Subscribe an endpoint to audit event types (the signing secret is in this answer only)',
      body: createWebhookSchema,
      responses: { 201: { description: 'the subscription and its signing secret', schema: createdWebhookSchema } },
      async handle(ctx, { body, actor }: AdminInput<CreateWebhookBody>) {
        const unknown = body.events.flatMap((type, index) => (isAuditEventType(type) ? [] : [{ field: `events.${index}`, message: `"${type}" is not an audit event type` }]));
        if (unknown.length) throw new AdminProblem(400, 'Bad Request', `unknown event types: ${body.events.filter((t) => !isAuditEventType(t)).join(', ')}`, unknown);
        const refused = refusedUrl(body.url, deps.config.webhooks);
        if (refused) throw new AdminProblem(400, 'Bad Request', `the url ${refused}`, [{ field: 'url', message: refused }]);
        const { subscription, secret } = await webhooks.create({ url: body.url, events: body.events, description: body.description, createdBy: actor });
        // the event names the endpoint's origin and types; never the secret
        await audit.record({ type: 'webhook.created', actor, subject: subscription.id, details: { origin: new URL(subscription.url).origin, events: subscription.events } });
        reply(ctx, 201, { ...webhookView(subscription), secret });
      },
    },
    {
      method: 'get', path: '/webhooks', tag, summary: 'List webhook subscriptions (never their secrets)',
      query: listQuerySchema,
      responses: { 200: { description: 'a page of subscriptions', schema: webhookSchema, list: true } },
      async handle(ctx, { query }: AdminInput<unknown, { limit: number; offset: number }>) {
        reply(ctx, 200, page((await webhooks.list(query)).map(webhookView), query));
      },
    },
    {
      method: 'get', path: '/webhooks/:id', tag, summary: 'One webhook subscription',
      params,
      responses: { 200: { description: 'the subscription', schema: webhookSchema }, 404: { description: 'no such subscription' } },
      async handle(ctx, { params: p }) {
        const subscription = await webhooks.find(p.id);
        if (!subscription) throw notFound('webhook');
        reply(ctx, 200, webhookView(subscription));
      },
    },
    {
      method: 'delete', path: '/webhooks/:id', tag, summary: 'Delete a subscription: nothing more is sent to it, its delivery log goes with it',
      params,
      responses: { 204: { description: 'deleted' }, 404: { description: 'no such subscription' } },
      async handle(ctx, { params: p, actor }) {
        if (!await webhooks.delete(p.id)) throw notFound('webhook');
        await audit.record({ type: 'webhook.deleted', actor, subject: p.id });
        reply(ctx, 204);
      },
    },
    {
      method: 'get', path: '/webhooks/:id/deliveries', tag, summary: 'The delivery log of a subscription, newest first',
      params,
      query: deliveriesQuerySchema,
      responses: { 200: { description: 'a page of deliveries', schema: webhookDeliverySchema, list: true }, 404: { description: 'no such subscription' } },
      async handle(ctx, { params: p, query }: AdminInput<unknown, { status?: 'pending' | 'delivered' | 'failed'; limit: number; offset: number }>) {
        if (!await webhooks.find(p.id)) throw notFound('webhook');
        reply(ctx, 200, page((await webhooks.deliveries(p.id, query)).map(deliveryView), query));
      },
    },
    {
      method: 'post', path: '/webhooks/:id/deliveries/:deliveryId/redeliver', tag, summary: 'Send a failed delivery again (with a fresh set of attempts)',
      params: { id: pathId, deliveryId: { type: 'string', pattern: '^[0-9]{1,18}$' } },
      responses: { 202: { description: 'queued again' }, 404: { description: 'no such delivery' }, 409: { description: 'the delivery has not failed' } },
      async handle(ctx, { params: p, actor }) {
        const outcome = await webhooks.redeliver(p.id, p.deliveryId);
        if (outcome === 'not-found') throw notFound('delivery');
        if (outcome === 'not-failed') throw new AdminProblem(409, 'Conflict', 'only a failed delivery can be sent again');
        await audit.record({ type: 'webhook.redelivered', actor, subject: p.id, details: { delivery_id: p.deliveryId } });
        reply(ctx, 202, { id: p.deliveryId, status: 'pending' });
      },
    },
  ];
}
