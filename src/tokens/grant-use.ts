/**
 * When each grant was last used to issue a token, for the admins' grant list
 * and the person's /account page. Written on the token-issuing hot path, so
 * at most once a minute per grant and process (what an admin needs to know is
 * "today" or "three weeks ago", not the second), and kept with the grant: it
 * lives exactly as long as the grant it describes.
 */
export interface GrantUse {
  /** Notes that a token was just issued under the grant (throttled; a grant that does not exist is left alone). */
  touch(grantId: string): Promise<void>;
  /** Epoch seconds of the last recorded use, per grant id; absent: not used since it was made (or since this was recorded). */
  lastUsed(grantIds: string[]): Promise<Map<string, number>>;
}

/** How often one process writes a grant's last use, at most. */
export const GRANT_USE_RESOLUTION_MS = 60_000;
const MAX_REMEMBERED = 50_000;

/** Wraps a store's write so that each grant is written at most once per resolution by this process. */
export function throttledTouch(write: (grantId: string, atSeconds: number) => Promise<void>, options: { resolutionMs?: number } = {}) {
  const resolution = options.resolutionMs ?? GRANT_USE_RESOLUTION_MS;
  const writtenAt = new Map<string, number>();
  return async (grantId: string): Promise<void> => {
    const now = Date.now();
    const last = writtenAt.get(grantId);
    if (last !== undefined && now - last < resolution) return;
    if (last === undefined && writtenAt.size >= MAX_REMEMBERED) {
      // oldest first; whatever is forgotten is merely written once more
      for (const [id, at] of writtenAt) if (now - at >= resolution || writtenAt.size >= MAX_REMEMBERED) writtenAt.delete(id); else break;
    }
    writtenAt.delete(grantId);
    writtenAt.set(grantId, now);
    await write(grantId, Math.floor(now / 1000));
  };
}

/** The models whose issue counts as a use of their grant. */
export const USE_OF_GRANT = new Set(['AccessToken', 'RefreshToken']);
