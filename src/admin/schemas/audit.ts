import { object, pagination, pathId, type JsonSchema } from './common.ts';

export const auditQuerySchema: JsonSchema = object({
  subject: pathId,
  actor: pathId,
  type: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._-]+$' },
  // a date or a date-time; the handler checks that it names a real instant
  since: { type: 'string', maxLength: 40, pattern: '^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2})?)?$', description: 'ISO-8601 date or date-time' },
  ...pagination,
});

export const auditEventSchema: JsonSchema = {
  title: 'AuditEvent',
  type: 'object',
  properties: {
    id: { type: 'string' }, at: { type: 'string', format: 'date-time' }, type: { type: 'string' },
    actor: { type: ['string', 'null'] }, subject: { type: ['string', 'null'] }, client_id: { type: ['string', 'null'] },
    details: { type: 'object' },
  },
};
