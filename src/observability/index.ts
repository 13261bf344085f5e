export { createLogger, type Logger } from './logger.ts';
export { createAccessLog, type AccessLogEntry } from './access-log.ts';
export { createMetrics, type Metrics, type HashingLoad, type ObservedAuditEvent } from './metrics.ts';
export { metricsEndpoint, metricsOnlyHandler, METRICS_PATH } from './metrics-endpoint.ts';
export { routeLabelOf } from './route-labels.ts';
