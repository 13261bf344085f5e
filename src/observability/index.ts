export { createLogger, type Logger } from './logger.ts';
export { createAccessLog, type AccessLogEntry } from './access-log.ts';
