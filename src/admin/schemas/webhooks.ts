import { AUDIT_EVENT_TYPES } from '../../audit/index.ts';
import { list, object, pagination, text, type JsonSchema } from './common.ts';

export interface CreateWebhookBody { url: string; events: string[]; description?: string }

/** Checked against the audit event catalog by the handler, which names an unknown type in its answer. */
const eventType: JsonSchema = { type: 'string', minLength: 1, maxLength: 100, pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$' };

export const createWebhookSchema: JsonSchema = {
  title: 'CreateWebhook',
  ...object({
    url: { type: 'string', format: 'uri', maxLength: 2048, pattern: '^https?://[^#\\s]+$', description: 'https; plain http only to loopback with WEBHOOKS_ALLOW_HTTP_LOOPBACK=true (development)' },
    events: list(eventType, 100, { minItems: 1, description: `audit event types: ${Object.keys(AUDIT_EVENT_TYPES).join(', ')}` }),
    description: text(200),
  }, ['url', 'events']),
};

export const deliveriesQuerySchema: JsonSchema = object({
  status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
  ...pagination,
});

export const webhookSchema: JsonSchema = {
  title: 'Webhook',
  type: 'object',
  properties: {
    id: { type: 'string' }, url: { type: 'string' }, events: { type: 'array', items: { type: 'string' } },
    description: { type: ['string', 'null'] }, disabled: { type: 'boolean' }, created_by: { type: ['string', 'null'] },
    created_at: { type: 'string', format: 'date-time' },
  },
};

export const createdWebhookSchema: JsonSchema = {
  title: 'CreatedWebhook',
  type: 'object',
  properties: {
    ...(webhookSchema.properties as Record<string, JsonSchema>),
    secret: { type: 'string', description: 'the signing secret; shown here once, never again' },
  },
};

export const webhookDeliverySchema: JsonSchema = {
  title: 'WebhookDelivery',
  type: 'object',
  properties: {
    id: { type: 'string' }, event_id: { type: 'string' }, event_type: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'delivered', 'failed'] }, attempts: { type: 'integer' },
    next_attempt_at: { type: ['string', 'null'], format: 'date-time' }, last_attempt_at: { type: ['string', 'null'], format: 'date-time' },
    last_status_code: { type: ['integer', 'null'] }, last_error: { type: ['string', 'null'] },
    delivered_at: { type: ['string', 'null'], format: 'date-time' }, created_at: { type: 'string', format: 'date-time' },
  },
};
