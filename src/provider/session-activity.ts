import type { SessionIndex } from '../tokens/index.ts';
import { shortenUserAgent } from '../tokens/index.ts';
import type { Logger } from '../observability/index.ts';
import type { ProviderStep } from './pipeline.ts';

/** A session's last use is written at most this often per instance: the list shows minutes, not requests. */
const ACTIVITY_INTERVAL_MS = 60_000;
/** Sessions whose last write this instance remembers; past it the memory starts over (one extra write each). */
const REMEMBERED_SESSIONS = 10_000;

/**
 * What the session list shows besides the provider's record: the User-Agent
 * and client address a session started with, when, and when it was last
 * used. Written after the provider answered /auth (the sign-in itself ends
 * there, at /auth/:uid), once the session it used is saved. The address is
 * ctx.ip, as the trusted-proxy rules left it (src/http/proxy-trust.ts).
 */
export function recordSessionActivity(deps: { sessions: SessionIndex; logger: Pick<Logger, 'warn'> }): ProviderStep {
  const lastWritten = new Map<string, number>();
  return {
    name: "a session's device, address and last use are noted for the session list",
    middleware: async (ctx, next) => {
      await next();
      const route = ctx.oidc?.route;
      if (route !== 'authorization' && route !== 'resume') return;
      const session = ctx.oidc?.session as { uid?: string; accountId?: string; exp?: number; destroyed?: boolean } | undefined;
      if (!session?.accountId || !session.uid || session.destroyed || typeof session.exp !== 'number') return;
      const now = Date.now();
      const last = lastWritten.get(session.uid);
      if (last !== undefined && now - last < ACTIVITY_INTERVAL_MS) return;
      if (lastWritten.size >= REMEMBERED_SESSIONS) lastWritten.clear();
      lastWritten.set(session.uid, now);
      try {
        await deps.sessions.noteActivity(session.uid, { userAgent: shortenUserAgent(ctx.get('user-agent')), ip: ctx.ip || null, at: now }, session.exp * 1000);
      } catch (error) {
        // the answer is already decided; the list is only less current
        deps.logger.warn({ err: (error as Error).message }, 'could not note session activity');
      }
    },
  };
}
