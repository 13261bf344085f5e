// Digests of high-entropy secrets and tokens (SHA-256, constant-time comparison).
export { tokenDigest, digestMatches } from './digest.ts';
// Secrets that must be used again (webhook signing secrets, TOTP secrets): AES-256-GCM with a KEYS_DIR key.
export { seal, unseal } from './sealing.ts';
