/*
 * The second factors' public contracts: the TOTP and recovery-code service
 * (service.ts) and the passkey service (passkeys.ts). The sign-in pages, the
 * password grant, /account and the admin API use these and nothing else of
 * src/mfa.
 */

/** Where a second factor was checked (the audit log records it; the lockout counts it). */
export interface SecondFactorContext {
  ip: string;
  /** the client the person signs in to */
  clientId?: string;
  via: 'login_page' | 'password_grant' | 'account';
}

/** What an account has enrolled: what the sign-in offers, what /account and the admin API show. */
export interface SecondFactors {
  /** a confirmed TOTP secret */
  totp: boolean;
  /** registered passkeys */
  passkeys: number;
  /** recovery codes not used yet */
  recoveryCodesLeft: number;
}

export const hasSecondFactor = (factors: SecondFactors): boolean => factors.totp || factors.passkeys > 0;

/** An account that has enrolled nothing (a new account; one whose factors an admin reset). */
export const NO_SECOND_FACTORS: SecondFactors = Object.freeze({ totp: false, passkeys: 0, recoveryCodesLeft: 0 });

/** A code typed by the person: a TOTP code, or a recovery code. Wrong codes count toward the password lockout. */
export type CodeCheck =
  | { ok: true; method: 'totp' | 'recovery_code' }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'locked'; retryAfterSeconds: number };

export interface TotpEnrollment {
  /** the secret in base32 (RFC 4648, no padding), as authenticator apps take it typed */
  secret: string;
  /** otpauth://totp/… for the QR code */
  otpauthUri: string;
  /** the QR code of otpauthUri, as an SVG document (rendered here: no third-party request) */
  qrSvg: string;
}

export interface MfaService {
  factorsOf(accountId: string): Promise<SecondFactors>;
  /** What each account has enrolled, in one query (the admin API's user list); unknown ids get none. */
  factorsOfAccounts(accountIds: readonly string[]): Promise<Map<string, SecondFactors>>;
  /**
   * A new TOTP secret waiting for its first code (it replaces one that was
   * waiting; a confirmed secret stays in use until the new one is confirmed).
   */
  startTotpEnrollment(accountId: string): Promise<TotpEnrollment>;
  /** The enrollment waiting for its first code, to show again (wrong code, reload). */
  pendingTotpEnrollment(accountId: string): Promise<TotpEnrollment | undefined>;
  /**
   * The first code confirms the waiting secret: TOTP is on. Returns ten new
   * recovery codes (shown once; the previous ones stop working).
   */
  confirmTotpEnrollment(accountId: string, code: string, context: SecondFactorContext):
    Promise<{ ok: true; recoveryCodes: string[] } | Exclude<CodeCheck, { ok: true }> | { ok: false; reason: 'no_enrollment' }>;
  /** A TOTP code (once per time step, ±1 step of skew) or an unused recovery code (once). */
  verifyCode(accountId: string, code: string, context: SecondFactorContext): Promise<CodeCheck>;
  /** Turns TOTP off and deletes the recovery codes, when `code` is a current TOTP code or a recovery code. */
  disableTotp(accountId: string, code: string, context: SecondFactorContext): Promise<CodeCheck>;
  /** Ten new recovery codes (shown once); the previous ones stop working. */
  newRecoveryCodes(accountId: string): Promise<string[]>;
  /** Admin: removes every second factor of the account (TOTP, recovery codes, passkeys). */
  reset(accountId: string, actor: string): Promise<SecondFactors>;
}

/** A registered passkey, as /account and the admin API list it. */
export interface PasskeySummary {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** synced (multi-device) or bound to one authenticator */
  synced: boolean;
}

export interface PasskeyAuthentication {
  accountId: string;
  /** `swk` for a synced passkey, `hwk` for one bound to its authenticator */
  method: 'hwk' | 'swk';
  userVerified: boolean;
}

export interface PasskeyService {
  /**
   * False when the issuer's host is an IP address: WebAuthn allows no IP
   * address as RP ID, so there are no passkeys (the pages offer none, and
   * the options and verification methods throw).
   */
  readonly available: boolean;
  list(accountId: string): Promise<PasskeySummary[]>;
  /** WebAuthn creation options (JSON form) for the signed-in person; the challenge is kept for one use. */
  registrationOptions(account: { id: string; username: string }): Promise<Record<string, unknown>>;
  /** Verifies the browser's attestation response against the kept challenge and stores the passkey. */
  register(accountId: string, response: unknown, name: string): Promise<{ ok: true; id: string } | { ok: false; reason: string }>;
  /** False when the account has no such passkey. */
  remove(accountId: string, passkeyId: string): Promise<boolean>;
  /**
   * WebAuthn request options (JSON form). With an account: its passkeys (second
   * factor). Without: discoverable credentials, user verification required
   * (sign in without a password). `bindTo` ties the kept challenge to one
   * interaction or page.
   */
  authenticationOptions(options: { accountId?: string; bindTo: string }): Promise<Record<string, unknown>>;
  /**
   * Verifies an assertion: the kept challenge (used once), the origin and RP ID
   * (from the issuer), the signature, the sign counter; with `accountId`, the
   * passkey must be that account's; with `requireUserVerification`, the UV flag.
   */
  authenticate(response: unknown, options: { accountId?: string; bindTo: string; requireUserVerification: boolean; context: SecondFactorContext }):
    Promise<({ ok: true } & PasskeyAuthentication) | { ok: false; reason: string }>;
}
