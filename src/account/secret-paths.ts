/**
 * A password reset link carries its token in the path (the page must work
 * without JavaScript, so it cannot be a fragment). Whatever records paths —
 * the access log — records this instead: the token never reaches a log.
 * (Referer leaks are closed by `Referrer-Policy: no-referrer` on every page.)
 */
const RESET_LINK = /^(\/account\/reset\/)[^/]*/i;

export function redactSecretPaths(path: string): string {
  return path.replace(RESET_LINK, '$1[redacted]');
}
