import type { ProviderStep } from './pipeline.ts';
import type { Logger } from '../observability/index.ts';

/** Clients already named in the log since the start: a client that always asks wrongly is named once, not at every sign-in. */
const REMEMBERED_CLIENTS = 1000;

function requestedScope(ctx: { method: string; query: Record<string, unknown>; oidc?: { body?: Record<string, unknown> } }): string {
  const raw = ctx.method === 'POST' ? ctx.oidc?.body?.scope : ctx.query.scope;
  return typeof raw === 'string' ? raw : '';
}

/**
 * OpenID Connect Core §11: an authorization request's offline_access is
 * ignored unless it also has prompt=consent (and oidc-provider, rightly,
 * ignores it when the client may not use the refresh_token grant). The
 * request goes on without it, and the first sign of it is a token response
 * without a refresh token. This names the client and the reason in the log,
 * where the developer of that client looks.
 */
export function noteDroppedOfflineAccess(logger: Pick<Logger, 'info'>): ProviderStep {
  const named = new Set<string>();
  return {
    name: 'offline_access dropped from an authorization request is named in the log',
    middleware: async (ctx, next) => {
      await next();
      if (ctx.oidc?.route !== 'authorization' || !ctx.oidc.client || !ctx.oidc.params) return;
      if (!requestedScope(ctx as never).split(' ').includes('offline_access')) return;
      if (String(ctx.oidc.params.scope ?? '').split(' ').includes('offline_access')) return;
      const { clientId } = ctx.oidc.client;
      if (named.has(clientId)) return;
      if (named.size >= REMEMBERED_CLIENTS) named.clear();
      named.add(clientId);
      const reason = ctx.oidc.client.grantTypeAllowed('refresh_token')
        ? 'the request has no prompt=consent (OpenID Connect Core §11 grants offline_access only with it)'
        : 'the client is not registered for the refresh_token grant';
      logger.info({ clientId }, `offline_access was dropped from an authorization request of client ${clientId}, so no refresh token will be issued: ${reason} (logged once per client until restart)`);
    },
  };
}
