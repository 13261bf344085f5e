// Digests of high-entropy secrets and tokens (SHA-256, constant-time comparison).
export { tokenDigest, digestMatches } from './digest.ts';
