import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditRecord } from '../audit/index.ts';

/*
 * The security events that happen inside oidc-provider, recorded from its
 * events. They run in the request's call chain, so the audit log reads the
 * request's address, user agent and request id itself (src/http/request-context.ts).
 * All are enqueued, never awaited: the token endpoint (client_credentials is
 * benchmarked) gets no round trip to the database for them.
 */

interface TokenEntity { accountId?: string; grantId?: string; scope?: string; aud?: string | string[] }

/** Which kinds of token an answer carries: never the tokens. */
const ISSUED_KINDS = ['access_token', 'refresh_token', 'id_token'] as const;

const REFRESH_TOKEN_REUSED = 'refresh token already used'; // oidc-provider's error_detail (actions/grants/refresh_token.js)

export function recordProviderAuditEvents(provider: Provider, audit: { enqueue(event: AuditRecord): void }): void {
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const { oidc } = ctx;
    const entities = oidc.entities as Record<string, TokenEntity | undefined>;
    const token = entities.AccessToken ?? entities.ClientCredentials;
    const body = (ctx.body ?? {}) as Record<string, unknown>;
    const accountId = (oidc.account as { accountId?: string } | undefined)?.accountId ?? token?.accountId ?? null;
    const clientId = oidc.client?.clientId ?? null;
    audit.enqueue({
      type: 'token.issued',
      actor: clientId,
      subject: accountId,
      clientId,
      details: {
        grant_type: oidc.params?.grant_type,
        grant_id: token?.grantId ?? entities.Grant?.grantId,
        scope: token?.scope,
        audience: token?.aud,
        issued: ISSUED_KINDS.filter((kind) => body[kind] !== undefined),
      },
    });
  });

  // oidc-provider revokes the grant (every token of it) before it answers invalid_grant
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: Error & { error_detail?: string }) => {
    if (ctx.oidc?.params?.grant_type !== 'refresh_token' || error.error_detail !== REFRESH_TOKEN_REUSED) return;
    const refreshToken = ctx.oidc.entities.RefreshToken as TokenEntity | undefined;
    const clientId = ctx.oidc.client?.clientId ?? null;
    audit.enqueue({
      type: 'token.reuse_detected',
      actor: clientId,
      subject: refreshToken?.accountId ?? null,
      clientId,
      details: { grant_id: refreshToken?.grantId, grant_revoked: true },
    });
  });

  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    const session = ctx.oidc.session as { accountId?: string } | undefined;
    const clientId = ctx.oidc.client?.clientId ?? (ctx.oidc.entities.Client as { clientId?: string } | undefined)?.clientId ?? null;
    const accountId = session?.accountId ?? null;
    audit.enqueue({
      type: 'session.ended',
      actor: accountId,
      subject: accountId,
      clientId,
      details: { by: 'person', via: 'end_session', everywhere: !!ctx.oidc.params?.logout },
    });
  });
}
