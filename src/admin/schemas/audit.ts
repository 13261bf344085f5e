import { AUDIT_EVENT_TYPES } from '../../audit/index.ts';
import { object, pagination, pathId, type JsonSchema } from './common.ts';

const TYPE_NAME = '[a-z_]+(\\.[a-z_]+)*';

/** ISO-8601: a date or a date-time; the handler checks that it names a real instant. */
const instant = (description: string): JsonSchema => ({
  type: 'string', maxLength: 40,
  pattern: '^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2})?)?$',
  description,
});

/** The filters, shared by the paged list and the export. */
const filters: Record<string, JsonSchema> = {
  subject: { ...pathId, description: 'an account id or username, a client_id, a resource identifier, ...' },
  actor: { ...pathId, description: 'an admin client_id, an account id, or "configuration"' },
  client: { ...pathId, description: 'events concerning this client_id' },
  type: {
    type: 'string', minLength: 1, maxLength: 1000, pattern: `^${TYPE_NAME}(,${TYPE_NAME})*$`,
    description: `exact event types, comma-separated: ${Object.keys(AUDIT_EVENT_TYPES).join(', ')}`,
  },
  since: instant('events at or after this time (ISO-8601 date or date-time)'),
  until: instant('events before this time (ISO-8601 date or date-time)'),
};

export const auditQuerySchema: JsonSchema = object({
  ...filters,
  ...pagination,
  cursor: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'next_cursor of the previous page' },
});

export const auditExportQuerySchema: JsonSchema = object(filters);

export const auditEventSchema: JsonSchema = {
  title: 'AuditEvent',
  type: 'object',
  properties: {
    id: { type: 'string' }, at: { type: 'string', format: 'date-time' }, type: { type: 'string' },
    actor: { type: ['string', 'null'] }, subject: { type: ['string', 'null'] }, client_id: { type: ['string', 'null'] },
    ip: { type: ['string', 'null'] }, user_agent: { type: ['string', 'null'] }, request_id: { type: ['string', 'null'] },
    details: { type: 'object' },
  },
};

export const auditPageSchema: JsonSchema = {
  title: 'AuditPage',
  type: 'object',
  properties: {
    items: { type: 'array', items: { $ref: '#/components/schemas/AuditEvent' } },
    limit: { type: 'integer' },
    offset: { type: 'integer' },
    next_cursor: { type: 'string', description: 'present when there are more events: pass it as cursor' },
  },
};
