// Helpers for the grant tests; token requests are test/support/oauth.ts.

/** The claims of a JWT, unverified. */
export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
  return { header, payload };
}

/** Lockout limits that stay out of the way of tests about something else. */
export const GENEROUS_LOCKOUT = {
  maxConsecutiveFailures: 1000,
  baseDelaySeconds: 1,
  maxDelaySeconds: 1,
  perIpPerMinute: 100000,
  perIpAndUsernamePerMinute: 100000,
};

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
