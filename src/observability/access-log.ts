import { pino, type Logger } from 'pino';
import { isoTimeFromSecondPrefix } from './logger.ts';

export interface AccessLogEntry {
  requestId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
}

const INFO = 30;

/**
 * The access log: one line per request, the same JSON line that
 * `logger.info({ requestId, method, path, status, ms }, 'request')` writes, to
 * the same destination, but formatted here. These lines hold none of the
 * fields redaction is for, and writing them through pino (child logger,
 * serializers, redaction set-up) costs several times more than the line itself,
 * on every request.
 */
export function createAccessLog(logger: Logger): (entry: AccessLogEntry) => void {
  const destination = (logger as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym];
  const time = isoTimeFromSecondPrefix();
  return (entry) => {
    if (!logger.isLevelEnabled('info')) return;
    destination.write(`{"level":${INFO}${time()},"requestId":${JSON.stringify(entry.requestId)},"method":${JSON.stringify(entry.method)}`
      + `,"path":${JSON.stringify(entry.path)},"status":${entry.status},"ms":${entry.ms},"msg":"request"}\n`);
  };
}
