/**
 * A person's sign-in sessions, as admins and the person see them. The public
 * id is the provider session's `uid` (the `sid` of ID tokens and logout
 * tokens), never its storage id, which is what the session cookie holds.
 */
export interface SessionSummary {
  /** the session's uid (= `sid`) */
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

/**
 * Listing and ending sessions. Ending a session revokes the grants made in
 * it (every token they cover) and sends back-channel logout tokens to the
 * clients that registered a backchannel_logout_uri.
 */
export interface SessionDirectory {
  ofAccount(accountId: string): Promise<SessionSummary[]>;
  /** Ends one session; with accountId, only if it is that account's. False when there is no such session. */
  end(sessionId: string, options?: { accountId?: string }): Promise<boolean>;
  /** Ends every session of the account except `except` (a session id); returns how many ended. */
  endAllOfAccount(accountId: string, options?: { except?: string }): Promise<number>;
}

/**
 * INTERIM (issue 11 integration): lists no session and ends none, until the
 * session index lands and replaces it in src/server/compose.ts. Not to ship.
 */
export const interimSessionDirectory: SessionDirectory = {
  ofAccount: async () => [],
  end: async () => false,
  endAllOfAccount: async () => 0,
};
