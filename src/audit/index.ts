export { createAuditLog, type AfterEventRecorded, type AuditLog, type AuditEvent, type AuditFilter, type AuditRecord } from './audit-log.ts';
export { maskEmail, redactDetails } from './redact.ts';
export { AUDIT_EVENT_TYPES, isAuditEventType, type AuditEventType } from './event-types.ts';
