// Second factors: TOTP with recovery codes, passkeys (WebAuthn), and what a sign-in proved (amr/acr).
export * from './types.ts';
export * from './authentication-level.ts';
export { createMfaService, otpauthUri, type MfaServiceDeps } from './service.ts';
export { base32Decode, base32Encode, matchingStep, totpAtStep } from './totp.ts';
export { RECOVERY_CODE_COUNT } from './recovery-codes.ts';
export { createPasskeyService, relyingPartyIdOf, CHALLENGE_TTL_SECONDS, MAX_PASSKEY_NAME_LENGTH, type ChallengeStore, type PasskeyServiceDeps } from './passkeys.ts';
