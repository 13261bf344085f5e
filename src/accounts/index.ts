export { createAccountRepository, UsernameTakenError, type Account, type AccountRepository, type NewAccount } from './repository.ts';
export { createPasswordHasher, createHashingQueue, HashingOverloadedError, type PasswordHasher } from './password-hashing.ts';
export { createCredentialVerifier, noAttemptGuard, type AttemptGuard, type CredentialCheck, type CredentialVerifier } from './service.ts';
export { claimsOf, CLAIMS_BY_SCOPE } from './claims.ts';
export { createAttemptGuard, normalizeUsername, type AttemptGuardOptions, type ClosableAttemptGuard } from './lockout.ts';
