export { createAuditLog, type AuditLog, type AuditEvent, type AuditFilter, type AuditRecord } from './audit-log.ts';
export { maskEmail, redactDetails } from './redact.ts';
