/**
 * Audit details are read by more people than the secrets they could reveal, so
 * they are cleaned before they are written: credentials are dropped outright
 * and e-mail addresses are masked (personal data).
 */

/** Field names whose values must never reach the audit log, whatever the caller passed. */
// ("token_format" and "access_token_ttl" are settings and stay; "refresh_token" goes)
// ("otp": the password grant's one-time code parameter)
const SECRET_KEY = /passw|secret|hash|credential|authorization|cookie|private|(^|_)token$|^jwt$|^otp$/i;
const EMAIL = /^([^@\s]{1,64})@([^@\s]+)$/;

/** alice@example.com → a***@example.com: enough to recognise, not to harvest. */
export function maskEmail(email: string): string {
  const match = EMAIL.exec(email);
  if (!match) return '***';
  return `${match[1][0]}***@${match[2]}`;
}

function clean(value: unknown, depth: number): unknown {
  if (depth > 4) return '[…]';
  // Postgres refuses NUL in JSON: one such value would fail its batch, and every event queued behind it
  if (typeof value === 'string') {
    // the search first: most strings hold no NUL, and are kept as they are (no copy per event)
    const storable = value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
    return EMAIL.test(storable) ? maskEmail(storable) : storable;
  }
  if (Array.isArray(value)) return value.slice(0, 100).map((item) => clean(item, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (SECRET_KEY.test(key)) continue;
      out[key.includes('\u0000') ? key.replaceAll('\u0000', '') : key] = clean(item, depth + 1);
    }
    return out;
  }
  return value;
}

/** Drops secret-looking fields, masks e-mail addresses and removes NUL characters, recursively. */
export function redactDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  return (clean(details ?? {}, 0) as Record<string, unknown>);
}
