import type Provider from 'oidc-provider';
import type { Revocation } from './revocation.ts';
import type { TokenState } from './types.ts';
import { describeDevice } from './user-agent.ts';

/**
 * A person's sign-in sessions, as admins and the person see them. The public
 * id is the provider session's `uid`, never its storage id, which is what the
 * session cookie holds. (The `sid` of ID tokens and logout tokens is not the
 * uid: oidc-provider gives every client of a session its own sid.)
 */
export interface SessionSummary {
  /** the session's uid */
  readonly id: string;
  readonly accountId: string;
  /** the User-Agent the session was started with (shortened), and a short description of it ("Chrome on Linux") */
  readonly userAgent: string | null;
  readonly device: string | null;
  /** the client address the session was started from */
  readonly ip: string | null;
  readonly createdAt: Date;
  readonly lastActiveAt: Date | null;
  /** client_ids signed in through this session */
  readonly clients: string[];
}

/** Why a session ended, and who ended it (for the audit log). */
export interface SessionEnding {
  /** the admin client's client_id, or the person's account id; absent: the account itself */
  actor?: string | null;
  /** a short reason code, e.g. "admin", "signed_out", "user_disabled", "password_changed" */
  reason?: string;
}

/**
 * Listing and ending sessions. Ending a session revokes the grants made in
 * it (every token they cover) and sends back-channel logout tokens to the
 * clients that registered a backchannel_logout_uri.
 */
export interface SessionDirectory {
  ofAccount(accountId: string): Promise<SessionSummary[]>;
  /** Ends one session; with accountId, only if it is that account's. False when there is no such session. */
  end(sessionId: string, options?: { accountId?: string } & SessionEnding): Promise<boolean>;
  /** Ends every session of the account except `except` (a session id); returns how many ended. */
  endAllOfAccount(accountId: string, options?: { except?: string } & SessionEnding): Promise<number>;
  /**
   * Everything an account holds, gone (a user disabled, deleted or given a new
   * password): its sessions end (except `except`), then every grant left is
   * revoked with every token it covers. Returns the sessions ended and the
   * grants revoked, those of the ended sessions included.
   */
  takeAccessAway(accountId: string, options?: { except?: string } & SessionEnding): Promise<{ endedSessions: number; revokedGrants: number }>;
}

/** The part of the audit log the directory writes to. */
interface AuditSink {
  record(event: { type: 'session.ended'; actor: string | null; subject: string; clientId?: string | null; details: Record<string, unknown> }): Promise<void>;
}

interface LogSink {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

/** What the provider keeps of each client signed in through a session. */
type Authorizations = Record<string, { sid?: string; grantId?: string }>;

interface SessionPayload { uid?: unknown; accountId?: unknown; loginTs?: unknown; iat?: unknown; authorizations?: unknown }

/** The one method of oidc-provider's Client that builds, signs and posts a logout token (as RP-initiated logout does). */
interface BackchannelLogoutClient {
  clientId: string;
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
}

const authorizationsOf = (payload: SessionPayload): Authorizations =>
  (payload.authorizations && typeof payload.authorizations === 'object' ? payload.authorizations as Authorizations : {});

export function createSessionDirectory(deps: {
  provider: Provider;
  tokenState: TokenState;
  revocation: Pick<Revocation, 'revokeGrant' | 'revokeGrantsOfUser'>;
  audit: AuditSink;
  logger: LogSink;
}): SessionDirectory {
  const { provider, tokenState, revocation, audit, logger } = deps;
  const sessionAdapter = () => tokenState.adapterFactory('Session');

  async function payloadOf(uid: string): Promise<SessionPayload | undefined> {
    return (await sessionAdapter().findByUid(uid)) as SessionPayload | undefined ?? undefined;
  }

  async function clientOf(clientId: string): Promise<BackchannelLogoutClient | undefined> {
    try {
      return (await provider.Client.find(clientId)) as unknown as BackchannelLogoutClient | undefined;
    } catch {
      return undefined; // a client whose registration no longer validates gets no logout token
    }
  }

  /**
   * A logout token to the client, if it registered where to send one. The
   * provider bounds the request (2.5 s) and refuses special-use addresses
   * (src/provider/backchannel-logout.ts); a failure is logged without the token.
   */
  async function sendLogoutToken(clientId: string, accountId: string, sid: string | undefined): Promise<'sent' | 'failed' | 'none'> {
    const client = await clientOf(clientId);
    if (!client?.backchannelLogoutUri) return 'none';
    try {
      await client.backchannelLogout(accountId, sid);
      return 'sent';
    } catch (error) {
      logger.warn({ clientId, err: (error as Error).message }, 'back-channel logout failed');
      return 'failed';
    }
  }

  /** Everything that follows from a session's end: its grants revoked, its clients told, the audit event. */
  async function ended(uid: string, payload: SessionPayload, ending: SessionEnding): Promise<void> {
    const accountId = typeof payload.accountId === 'string' ? payload.accountId : undefined;
    const authorizations = Object.entries(authorizationsOf(payload));
    const grantIds = [...new Set(authorizations.flatMap(([, a]) => (typeof a?.grantId === 'string' ? [a.grantId] : [])))];
    // tokens first: by the time a client hears of the logout, its tokens are dead
    for (const grantId of grantIds) await revocation.revokeGrant(grantId);
    const outcomes = accountId
      ? await Promise.all(authorizations.map(([clientId, a]) => sendLogoutToken(clientId, accountId, typeof a?.sid === 'string' ? a.sid : undefined)))
      : [];
    if (!accountId) return;
    await audit.record({
      type: 'session.ended',
      actor: ending.actor === undefined ? accountId : ending.actor,
      subject: accountId,
      details: {
        session_id: uid,
        reason: ending.reason ?? 'ended',
        clients: authorizations.map(([clientId]) => clientId),
        revoked_grants: grantIds.length,
        backchannel_logout: { sent: outcomes.filter((o) => o === 'sent').length, failed: outcomes.filter((o) => o === 'failed').length },
      },
    });
  }

  async function end(uid: string, options: { accountId?: string } & SessionEnding = {}): Promise<boolean> {
    if (options.accountId !== undefined) {
      const current = await payloadOf(uid);
      if (!current || current.accountId !== options.accountId) return false;
    }
    // taken in one step: of two concurrent ends, one does the rest
    const payload = await tokenState.sessions.take(uid) as SessionPayload | undefined;
    if (!payload) return false;
    await ended(uid, payload, options);
    return true;
  }

  async function endAllOfAccount(accountId: string, options: { except?: string } & SessionEnding = {}): Promise<number> {
    const { except, ...ending } = options;
    let count = 0;
    for (const uid of await tokenState.sessions.ofAccount(accountId)) {
      if (uid === except) continue;
      if (await end(uid, { ...ending, accountId })) count += 1;
    }
    return count;
  }

  async function summaryOf(uid: string, accountId: string): Promise<SessionSummary | undefined> {
    const [payload, meta] = await Promise.all([payloadOf(uid), tokenState.sessions.metadataOf(uid)]);
    // the index may still list a session that ended, or whose browser signed in as someone else since
    if (!payload || payload.accountId !== accountId) return undefined;
    const signedInAt = typeof payload.loginTs === 'number' ? payload.loginTs * 1000 : typeof payload.iat === 'number' ? payload.iat * 1000 : Date.now();
    return {
      id: uid,
      accountId,
      userAgent: meta?.userAgent ?? null,
      device: describeDevice(meta?.userAgent ?? null),
      ip: meta?.ip ?? null,
      createdAt: new Date(meta?.createdAt ?? signedInAt),
      lastActiveAt: meta ? new Date(meta.lastActiveAt) : null,
      clients: Object.keys(authorizationsOf(payload)),
    };
  }

  return {
    async ofAccount(accountId) {
      const uids = await tokenState.sessions.ofAccount(accountId);
      const summaries = (await Promise.all(uids.map((uid) => summaryOf(uid, accountId)))).filter((s): s is SessionSummary => !!s);
      // most recently used first
      const recency = (s: SessionSummary) => (s.lastActiveAt ?? s.createdAt).getTime();
      return summaries.sort((x, y) => recency(y) - recency(x) || x.id.localeCompare(y.id));
    },

    end,

    endAllOfAccount,

    async takeAccessAway(accountId, options = {}) {
      // Sessions first: while one lives, an app could get a new grant through
      // it. Ending them revokes their grants, so the count is taken before.
      const grants = (await tokenState.grants.ofAccount(accountId)).length;
      const endedSessions = await endAllOfAccount(accountId, options);
      const rest = await revocation.revokeGrantsOfUser(accountId);
      return { endedSessions, revokedGrants: Math.max(grants, rest) };
    },
  };
}
