import type { AccountRepository } from './repository.ts';
import type { PasswordHasher } from './password-hashing.ts';
import type { AuditRecord } from '../audit/index.ts';

export type CredentialCheck =
  /** secondFactorFollows: the account has a second factor (asked once the password was right), so the sign-in is not complete yet */
  | { ok: true; accountId: string; secondFactorFollows: boolean }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'locked'; retryAfterSeconds: number };

/**
 * Brute-force protection consulted around every password check (login page and
 * password grant alike). `beforeAttempt` returns the seconds to wait when the
 * attempt must be refused.
 */
export interface AttemptGuard {
  beforeAttempt(username: string, ip: string): Promise<number | undefined>;
  /** Returns the seconds the account is now locked for, when this failure locked it. */
  recordFailure(username: string, ip: string): Promise<number | undefined | void>;
  recordSuccess(username: string, ip: string): Promise<void>;
  /** The check began but reached no verdict (hashing overloaded, store down): undo what beforeAttempt counted. */
  releaseAttempt?(username: string, ip: string): Promise<void>;
  /**
   * The password was right and a second factor follows: the attempt is given
   * back (a right password is no failure), but the run of failures is not
   * cleared — only the second factor's success does that (recordSuccess), so
   * wrong codes sent each with the right password still add up to a lock.
   */
  recordFirstFactor?(username: string, ip: string): Promise<void>;
}

export const noAttemptGuard: AttemptGuard = {
  beforeAttempt: async () => undefined,
  recordFailure: async () => {},
  recordSuccess: async () => {},
  recordFirstFactor: async () => {},
};

export type CredentialVerifier = ReturnType<typeof createCredentialVerifier>;

/** Where a password was checked: the audit log records it with the client. */
export interface CredentialContext {
  ip: string;
  /** the client the person signs in to */
  clientId?: string;
  via?: 'login_page' | 'password_grant';
}

/**
 * Why a sign-in failed, as the audit log records it. The person is told none
 * of this (one answer for all, no user enumeration); the operator is.
 */
export type SignInFailure = 'invalid_credentials' | 'unknown_account' | 'disabled' | 'no_password' | 'locked';

export function createCredentialVerifier(deps: {
  accounts: AccountRepository;
  hasher: PasswordHasher;
  guard?: AttemptGuard;
  /** sign-in outcomes are enqueued (written in batches: this is the request path) */
  audit?: { enqueue(event: AuditRecord): void };
  /**
   * Whether the account has a second factor (src/mfa), asked once its
   * password was right: the password alone then does not clear the brute-force
   * counters (see AttemptGuard.recordFirstFactor). Absent: none has one.
   */
  secondFactorFollows?: (accountId: string) => Promise<boolean>;
}) {
  const { accounts, hasher, audit } = deps;
  const guard = deps.guard ?? noAttemptGuard;

  // Never the username of an attempt that matches no account: people type
  // passwords into the username field. The subject is the account id or nothing.
  const failed = (reason: SignInFailure, accountId: string | null, context: CredentialContext) => audit?.enqueue({
    type: 'signin.failed', actor: null, subject: accountId, clientId: context.clientId ?? null, details: { reason, via: context.via },
  });

  return async function verifyCredentials(username: string, password: string, context: CredentialContext): Promise<CredentialCheck> {
    const retryAfterSeconds = await guard.beforeAttempt(username, context.ip);
    if (retryAfterSeconds !== undefined) {
      // which account is not looked up: refused attempts are cheap for an attacker and must stay cheap here
      failed('locked', null, context);
      return { ok: false, reason: 'locked', retryAfterSeconds };
    }

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
      const lockedForSeconds = await guard.recordFailure(username, context.ip);
      const accountId = found?.account.id ?? null;
      failed(!found ? 'unknown_account' : found.account.disabled ? 'disabled' : !found.passwordHash ? 'no_password' : 'invalid_credentials', accountId, context);
      if (lockedForSeconds && accountId) {
        audit?.enqueue({ type: 'account.locked', actor: null, subject: accountId, clientId: context.clientId ?? null, details: { seconds: lockedForSeconds, via: context.via } });
      }
      return { ok: false, reason: 'invalid' };
    }
    let secondFactorFollows: boolean;
    try {
      secondFactorFollows = (await deps.secondFactorFollows?.(found!.account.id)) === true;
    } catch (error) {
      await guard.releaseAttempt?.(username, context.ip).catch(() => {});
      throw error;
    }
    // Otherwise the right password sent with each guessed code would clear the
    // failures those codes counted, and the lock would never come.
    if (secondFactorFollows) await (guard.recordFirstFactor ?? guard.releaseAttempt)?.call(guard, username, context.ip);
    else await guard.recordSuccess(username, context.ip);
    audit?.enqueue({ type: 'signin.succeeded', actor: found!.account.id, subject: found!.account.id, clientId: context.clientId ?? null, details: { method: 'pwd', via: context.via } });
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
    return { ok: true, accountId: found!.account.id, secondFactorFollows };
  };
}
