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
];

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino({
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
  }, options.destination);
}

/** "alice@example.com" → "a***@example.com"; usernames "alice" → "a***". */
export function maskPersonalData(value: string | undefined | null): string | undefined {
  if (!value) return undefined;
  const at = value.indexOf('@');
  const local = at === -1 ? value : value.slice(0, at);
  return `${local.slice(0, 1)}***${at === -1 ? '' : value.slice(at)}`;
}
