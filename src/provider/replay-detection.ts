import type { default as Provider } from 'oidc-provider';
import type { ReplayGuard } from '../tokens/index.ts';

/*
 * oidc-provider refuses a DPoP proof (RFC 9449 §11.1) or a private_key_jwt
 * client assertion whose jti it has seen before, through its ReplayDetection
 * model: `unique(iss, jti, exp)`. Its own version reads the record, then
 * writes it — two requests carrying the same proof at the same moment (at one
 * instance or at two) can both read "not seen" and both pass. Tessera answers
 * `unique` with one atomic claim in the shared token state instead, so the
 * check holds under concurrency and across every instance.
 */

interface ReplayDetectionModel {
  unique(iss: string, jti: string, exp: number): Promise<boolean>;
}

/** Makes the provider's replay checks claims in `replays` (shared by every instance). */
export function detectReplaysWith(provider: Provider, replays: ReplayGuard): void {
  const model = (provider as unknown as { ReplayDetection: ReplayDetectionModel }).ReplayDetection;
  model.unique = async (iss: string, jti: string, exp: number) => {
    // exp: epoch seconds until which the proof or assertion would be accepted
    const ttlSeconds = Math.max(1, exp - Math.floor(Date.now() / 1000));
    // the separator keeps ("ab", "c") and ("a", "bc") apart
    return replays.claimOnce(`${iss}\u0000${jti}`, ttlSeconds);
  };
}
