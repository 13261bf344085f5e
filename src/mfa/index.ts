// Second factors: TOTP with recovery codes, passkeys (WebAuthn), and what a sign-in proved (amr/acr).
export * from './types.ts';
export * from './authentication-level.ts';
export { secondFactorsOfAccounts, NO_SECOND_FACTORS } from './second-factor-counts.ts';
