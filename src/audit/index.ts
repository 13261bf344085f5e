export { AUDIT_POSITION, createAuditLog, type AfterEventRecorded, type AuditContext, type AuditLog, type AuditLogOptions, type AuditEvent, type AuditFilter, type AuditPage, type AuditRecord } from './audit-log.ts';
export { maskEmail, redactDetails } from './redact.ts';
export { AUDIT_EVENT_TYPES, isAuditEventType, type AuditEventType } from './event-types.ts';
export { recordKeySetChange, type KeyInSet } from './key-set.ts';
