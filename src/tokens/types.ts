import type { Adapter } from 'oidc-provider';
import type { ClientChangeLog } from '../clients/index.ts';
import type { GrantUse } from './grant-use.ts';
import type { RateLimitCounters } from './rate-limit-counters.ts';

/** oidc-provider calls this once per model name ("Session", "AccessToken", ...). */
export type AdapterFactory = (modelName: string) => Adapter;

/**
 * JTIs of revoked JWT access tokens. JWTs are never stored, so revoking one means
 * remembering its jti until it would have expired anyway.
 */
export interface JtiDenylist {
  /** expiresAt: epoch seconds (the token's exp); the entry lives until then. */
  add(jti: string, expiresAt: number): Promise<void>;
  has(jti: string): Promise<boolean>;
}

/**
 * The JWT access tokens issued under each grant, so that revoking a grant can
 * denylist its JWTs too. Entries expire with the tokens they record.
 */
export interface IssuedJwtIndex {
  record(grantId: string, jti: string, expiresAt: number): Promise<void>;
  /** Every recorded jti of the grant that has not expired yet. */
  list(grantId: string): Promise<Array<{ jti: string; expiresAt: number }>>;
}

/**
 * What a store keeps for JWT access tokens, which are never stored: the
 * denylist and the index of the JWTs each grant issued, and with them the
 * revocation of a grant's JWTs.
 */
export interface JwtRevocation {
  readonly denylist: JtiDenylist;
  readonly issuedJwts: IssuedJwtIndex;
  /**
   * Puts the grant's live JWTs on the denylist. oidc-provider revokes a grant
   * on every grantable model at once; concurrent calls for one grant share a run.
   */
  revokeJwtsOfGrant(grantId: string): Promise<void>;
}

/** Grant ids by the account and by the client they belong to (for admin revocation). */
export interface GrantIndex {
  ofAccount(accountId: string): Promise<string[]>;
  ofClient(clientId: string): Promise<string[]>;
}

/** What is known of a session besides the provider's record (src/tokens/sessions.ts). */
export interface SessionMetadata {
  /** User-Agent and client address the session was first seen with (shortened by the caller) */
  readonly userAgent: string | null;
  readonly ip: string | null;
  /** epoch ms */
  readonly createdAt: number;
  readonly lastActiveAt: number;
}

/**
 * Sessions by account and what is known of each, so that admins and the
 * person can list and end them. Sessions are named by their uid (public);
 * their storage id (the session cookie's value) is never listed. Entries
 * expire with the session.
 */
export interface SessionIndex {
  /** uids of the account's sessions that have not expired (a listed one may have ended meanwhile) */
  ofAccount(accountId: string): Promise<string[]>;
  /** Deletes the session named by its uid, and what is known of it; returns the provider's payload, or undefined if there was none. */
  take(uid: string): Promise<Record<string, unknown> | undefined>;
  /** Records use of the session: the first use sets createdAt, userAgent and ip; every use sets lastActiveAt. */
  noteActivity(uid: string, activity: { userAgent: string | null; ip: string | null; at: number }, expiresAtMs: number): Promise<void>;
  metadataOf(uid: string): Promise<SessionMetadata | undefined>;
}

/**
 * Everything with a TTL: sessions, grants, interactions, codes, tokens, replay
 * detection, the JTI denylist. Redis in production, SQL in embedded mode.
 */
export interface TokenState {
  readonly kind: 'redis' | 'sql';
  readonly adapterFactory: AdapterFactory;
  readonly denylist: JtiDenylist;
  readonly issuedJwts: IssuedJwtIndex;
  readonly grants: GrantIndex;
  readonly sessions: SessionIndex;
  /** when each grant last issued a token (grant-use.ts) */
  readonly grantUse: GrantUse;
  /** DPoP proofs and client assertions already presented (replay-guard.ts, src/provider/replay-detection.ts) */
  readonly replays: import('./replay-guard.ts').ReplayGuard;
  /**
   * Where client changes are announced to every instance, when the token
   * state is shared by several processes and faster to read than SQL (Redis).
   * Absent: the composition root picks (src/server/compose.ts).
   */
  readonly clientChanges?: ClientChangeLog;
  /** the rate limits' counters, shared by every instance using this token state (rate-limit-counters.ts) */
  readonly rateLimitCounters: RateLimitCounters;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
