/*
 * What a sign-in proved, as ID tokens say it: `amr` (RFC 8176 method names)
 * and `acr` (one of the two levels Tessera advertises).
 *
 *   pwd  a password                         (something known)
 *   otp  a one-time code: TOTP or a recovery code (something held)
 *   hwk  a passkey bound to one device      (something held, hardware-kept key)
 *   swk  a synced passkey                   (something held, software-kept key)
 *   mfa  two kinds of factor were proven: a password and a code or passkey, or
 *        a passkey whose authenticator verified the person (PIN or biometric)
 *
 * acr is `mfa` exactly when amr has `mfa`, and `pwd` otherwise. A client asks
 * for a second factor with `acr_values=mfa` (or its `require_mfa` setting).
 */

export const ACR_PASSWORD = 'pwd';
export const ACR_MULTI_FACTOR = 'mfa';
/** Advertised in discovery (`acr_values_supported`), weakest first. */
export const ACR_VALUES = [ACR_PASSWORD, ACR_MULTI_FACTOR] as const;

export type FactorMethod = 'pwd' | 'otp' | 'hwk' | 'swk';

export interface ProvenFactors {
  /** the methods used, in the order they were used */
  methods: readonly FactorMethod[];
  /** a passkey's authenticator verified the person (UV flag) */
  userVerified?: boolean;
}

export interface AuthenticationLevel {
  amr: string[];
  acr: typeof ACR_PASSWORD | typeof ACR_MULTI_FACTOR;
}

const KNOWLEDGE = new Set<FactorMethod>(['pwd']);
const POSSESSION = new Set<FactorMethod>(['otp', 'hwk', 'swk']);

export function authenticationLevel({ methods, userVerified = false }: ProvenFactors): AuthenticationLevel {
  const unique = [...new Set(methods)];
  const known = unique.some((m) => KNOWLEDGE.has(m));
  const held = unique.some((m) => POSSESSION.has(m));
  const verifiedKey = userVerified && unique.some((m) => m === 'hwk' || m === 'swk');
  const multiFactor = (known && held) || verifiedKey;
  return {
    amr: multiFactor ? [...unique, 'mfa'] : unique,
    acr: multiFactor ? ACR_MULTI_FACTOR : ACR_PASSWORD,
  };
}

/** Whether a sign-in (its amr, as the session keeps it) meets a second-factor requirement. */
export const isMultiFactor = (amr: readonly string[] | undefined): boolean => Array.isArray(amr) && amr.includes('mfa');
