import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths whose values never reach a log line. Tokens, codes, secrets and
 * passwords are censored wherever they appear in a logged object.
 */
const REDACTED_PATHS = [
  'password', '*.password', 'client_secret', '*.client_secret', 'clientSecret', '*.clientSecret',
  'token', '*.token', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token',
  'id_token', '*.id_token', 'code', '*.code', 'code_verifier', '*.code_verifier',
  'authorization', '*.authorization', 'cookie', '*.cookie', 'set-cookie', '*["set-cookie"]',
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
  'password_hash', '*.password_hash', 'secret', '*.secret',
  // the password grant's one-time code (src/grants/password.ts)
  'otp', '*.otp',
];

const FLUSH_INTERVAL_MS = 250;

/**
 * pino's isoTime, built from a per-second prefix: a Date and toISOString per
 * line cost more than the rest of an access-log line.
 */
export function isoTimeFromSecondPrefix(): () => string {
  let second = -1;
  let prefix = '';
  return () => {
    const now = Date.now();
    const thisSecond = Math.floor(now / 1000);
    if (thisSecond !== second) {
      second = thisSecond;
      prefix = `,"time":"${new Date(thisSecond * 1000).toISOString().slice(0, 20)}`; // 2026-11-23T20:41:53.
    }
    return `${prefix}${String(now % 1000).padStart(3, '0')}Z"`;
  };
}

let stdoutStream: DestinationStream | undefined;

/**
 * Lines go to stdout in batches: queued, and written 4 KiB at a time, or at
 * the latest every 250 ms: one write per line would be a system call per
 * request on the event loop, and handing each batch to libuv's pool (an
 * asynchronous write) trades that for thread switches on a busy core. What is queued is
 * written before the process exits, on a crash too; only a SIGKILL can lose
 * the last quarter second of lines. One stream per process, shared by every
 * logger writing to stdout.
 */
function stdoutInBatches(): DestinationStream {
  if (stdoutStream) return stdoutStream;
  const stream = pino.destination({ dest: 1, sync: true, minLength: 4096, periodicFlush: FLUSH_INTERVAL_MS } as Parameters<typeof pino.destination>[0]);
  process.once('exit', () => {
    try {
      stream.flushSync();
    } catch {
      // stdout is gone: nothing to write to
    }
  });
  stdoutStream = stream;
  return stream;
}

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino({
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: undefined,
    timestamp: isoTimeFromSecondPrefix(),
  }, options.destination ?? stdoutInBatches());
}
