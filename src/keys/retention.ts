import type { TtlConfig } from '../config/index.ts';
import { MAX_RESOURCE_TTL } from '../clients/index.ts';

/**
 * How long a signing key must stay accepted after it stopped signing: the
 * longest lifetime of anything it signed and a verifier checks the expiry
 * of (access tokens, with a resource server's own TTL up to MAX_RESOURCE_TTL,
 * and ID tokens), in seconds.
 */
export function longestSignedTokenTtl(ttl: Pick<TtlConfig, 'accessToken' | 'clientCredentials' | 'idToken'>): number {
  return Math.max(ttl.accessToken, ttl.clientCredentials, ttl.idToken, MAX_RESOURCE_TTL);
}
