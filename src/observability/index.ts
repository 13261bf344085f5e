export { createLogger, maskPersonalData, type Logger } from './logger.ts';
