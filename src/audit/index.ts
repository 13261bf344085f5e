export { AUDIT_POSITION, createAuditLog, type AfterEventRecorded, type AuditContext, type AuditLog, type AuditLogOptions, type AuditEvent, type AuditFilter, type AuditPage, type AuditRecord } from './audit-log.ts';
export { maskEmail, redactDetails } from './redact.ts';
export { AUDIT_EVENT_TYPES, isAuditEventType, type AuditEventType } from './event-types.ts';
export { createWebhookRepository, type WebhookRepository, type WebhookSubscription, type WebhookDelivery, type DeliveryStatus, type ClaimedDelivery } from './webhooks.ts';
export { createDeliveryWorker, payloadOf, retryDelay, type DeliveryWorker } from './webhook-delivery.ts';
export { refusedUrl, refusedAddress, addressKind, type DestinationPolicy } from './webhook-destinations.ts';
export { signatureHeader } from './webhook-signing.ts';
export { recordKeySetChange, type KeyInSet } from './key-set.ts';
