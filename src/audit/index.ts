export { createAuditLog, type AfterEventRecorded, type AuditLog, type AuditEvent, type AuditFilter, type AuditRecord } from './audit-log.ts';
export { maskEmail, redactDetails } from './redact.ts';
export { AUDIT_EVENT_TYPES, isAuditEventType, type AuditEventType } from './event-types.ts';
export { createWebhookRepository, type WebhookRepository, type WebhookSubscription, type WebhookDelivery, type DeliveryStatus, type ClaimedDelivery } from './webhooks.ts';
export { createDeliveryWorker, payloadOf, retryDelay, type DeliveryWorker } from './webhook-delivery.ts';
export { refusedUrl, refusedAddress, addressKind, type DestinationPolicy } from './webhook-destinations.ts';
export { signatureHeader, sealSecret, openSecret } from './webhook-signing.ts';
