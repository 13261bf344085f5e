/**
 * Single-use markers shared by every instance: DPoP proofs and client
 * assertions (their jti) may each be presented once while they are valid.
 */
export interface ReplayGuard {
  /**
   * True for the first claim of `key` within `ttlSeconds`, false for every
   * later one while it lasts. Atomic: of N concurrent claims, at every
   * instance, exactly one is true.
   */
  claimOnce(key: string, ttlSeconds: number): Promise<boolean>;
}
