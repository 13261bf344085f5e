import type { AccountRepository, PasswordHasher } from '../accounts/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { SessionDirectory } from '../tokens/index.ts';

/** The same bounds as the admin API's (src/admin/schemas/users.ts): hashed, never stored, any character. */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/** What is wrong with a new password, in words for the page; undefined when it will do. */
export function newPasswordProblem(password: string, repeated: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `Choose a new password of at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password.length > MAX_PASSWORD_LENGTH) return `Choose a new password of at most ${MAX_PASSWORD_LENGTH} characters.`;
  if (password !== repeated) return 'The two new passwords are not the same.';
  return undefined;
}

export interface PasswordChangeDeps {
  accounts: AccountRepository;
  hasher: PasswordHasher;
  sessions: SessionDirectory;
  audit: AuditLog;
}

/**
 * A new password takes away everything the old one gave: every grant of the
 * account is revoked (with every token it covers) and its sessions end —
 * all but the one the person changed it from (/account), or all of them (a
 * reset link, opened by someone who is not signed in). The account itself
 * is the actor: the person did it.
 */
export async function replacePassword(
  deps: PasswordChangeDeps,
  change: { accountId: string; passwordHash: string; via: 'account' | 'reset_link'; keepSession?: string },
): Promise<{ revokedGrants: number; endedSessions: number }> {
  const { accountId } = change;
  await deps.accounts.setPasswordHash(accountId, change.passwordHash);
  const { revokedGrants, endedSessions } = await deps.sessions.takeAccessAway(accountId, change.keepSession ? { except: change.keepSession } : {});
  await deps.audit.record({
    type: 'user.password_changed',
    actor: accountId,
    subject: accountId,
    details: { via: change.via, revoked_grants: revokedGrants, ended_sessions: endedSessions },
  });
  return { revokedGrants, endedSessions };
}
