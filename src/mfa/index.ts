// Second factors: TOTP with recovery codes, passkeys (WebAuthn), and what a sign-in proved (amr/acr).
export * from './types.ts';
export * from './authentication-level.ts';
export { createPasskeyService, relyingPartyIdOf, CHALLENGE_TTL_SECONDS, MAX_PASSKEY_NAME_LENGTH, type ChallengeStore, type PasskeyServiceDeps, type PasskeysAvailable } from './passkeys.ts';
