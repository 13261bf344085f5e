/*
 * Time as both token-state stores count it. oidc-provider gives a record's
 * lifetime in seconds (expiresIn) and instants in epoch seconds (exp,
 * consumed); the stores keep milliseconds (Redis TTLs and index scores) or
 * timestamps (SQL).
 */

/** Now, in epoch seconds: the unit of exp and of the consumed mark. */
export const epochSeconds = (): number => Math.floor(Date.now() / 1000);

/** A lifetime in seconds (expiresIn) in whole milliseconds, rounded up so that nothing goes early. */
export const ttlMsOf = (expiresIn: number): number => Math.ceil(expiresIn * 1000);

/** Milliseconds from now until `expiresAt` (epoch seconds): zero or less once it has passed. */
export const msUntil = (expiresAt: number): number => expiresAt * 1000 - Date.now();
