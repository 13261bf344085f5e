export { createAccountRepository, UsernameRefusedError, UsernameTakenError, type Account, type AccountRepository, type NewAccount } from './repository.ts';
export { createPasswordHasher, createHashingQueue, HashingOverloadedError, type PasswordHasher } from './password-hashing.ts';
export { createCredentialVerifier, noAttemptGuard, type AttemptGuard, type CredentialCheck, type CredentialContext, type CredentialVerifier, type SignInFailure } from './service.ts';
export { claimsOf, CLAIMS_BY_SCOPE } from './claims.ts';
export { canonicalUsername } from './username.ts';
export { createAttemptGuard, type AttemptGuardOptions, type ClosableAttemptGuard } from './lockout.ts';
