export { createAuditLog, type AfterEventRecorded, type AuditLog, type AuditEvent, type AuditFilter, type AuditRecord } from './audit-log.ts';
export { maskEmail, redactDetails } from './redact.ts';
