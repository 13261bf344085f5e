import type { AccountRepository } from './repository.ts';
import type { PasswordHasher } from './password-hashing.ts';

export type CredentialCheck =
  | { ok: true; accountId: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'locked'; retryAfterSeconds: number };

/**
 * Brute-force protection consulted around every password check (login page and
 * password grant alike). `beforeAttempt` returns the seconds to wait when the
 * attempt must be refused.
 */
export interface AttemptGuard {
  beforeAttempt(username: string, ip: string): Promise<number | undefined>;
  recordFailure(username: string, ip: string): Promise<void>;
  recordSuccess(username: string, ip: string): Promise<void>;
  /** The check began but reached no verdict (hashing overloaded, store down): undo what beforeAttempt counted. */
  releaseAttempt?(username: string, ip: string): Promise<void>;
}

export const noAttemptGuard: AttemptGuard = {
  beforeAttempt: async () => undefined,
  recordFailure: async () => {},
  recordSuccess: async () => {},
};

export type CredentialVerifier = ReturnType<typeof createCredentialVerifier>;

export function createCredentialVerifier(deps: { accounts: AccountRepository; hasher: PasswordHasher; guard?: AttemptGuard }) {
  const { accounts, hasher } = deps;
  const guard = deps.guard ?? noAttemptGuard;

  return async function verifyCredentials(username: string, password: string, context: { ip: string }): Promise<CredentialCheck> {
    const retryAfterSeconds = await guard.beforeAttempt(username, context.ip);
    if (retryAfterSeconds !== undefined) return { ok: false, reason: 'locked', retryAfterSeconds };

    let found: Awaited<ReturnType<AccountRepository['findCredentials']>>;
    let valid: boolean;
    try {
      found = await accounts.findCredentials(username);
      // Unknown, disabled and password-less accounts burn one verification too, so
      // the response time does not tell them apart from a wrong password.
      const usable = found && !found.account.disabled && found.passwordHash;
      valid = usable
        ? await hasher.verify(found!.passwordHash!, password)
        : (await hasher.verifyDummy(password), false);
    } catch (error) {
      await guard.releaseAttempt?.(username, context.ip).catch(() => {});
      throw error;
    }

    if (!valid) {
      await guard.recordFailure(username, context.ip);
      return { ok: false, reason: 'invalid' };
    }
    await guard.recordSuccess(username, context.ip);
    // Hash agility: bcrypt imports and old argon2 parameters move to the current
    // ones. The sign-in stands even when this fails (hashing busy): the next
    // successful sign-in tries again.
    if (hasher.needsRehash(found!.passwordHash!)) {
      try {
        await accounts.setPasswordHash(found!.account.id, await hasher.hash(password));
      } catch {
        // left for the next sign-in
      }
    }
    return { ok: true, accountId: found!.account.id };
  };
}
