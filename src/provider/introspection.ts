import { errors } from 'oidc-provider';
import type { Client, KoaContextWithOIDC, default as Provider } from 'oidc-provider';

interface IntrospectedToken { clientId?: string; aud?: string | string[]; resourceServer?: { audience?: string } }

export function audiencesOf(token: IntrospectedToken): string[] {
  const aud = token.aud ?? token.resourceServer?.audience;
  if (!aud) return [];
  return Array.isArray(aud) ? aud : [aud];
}

/**
 * Introspection answers the token's own client and the clients named as
 * introspectors for the token's audience; anyone else learns nothing. The
 * same rule for every token type: opaque and refresh tokens (the provider's
 * allowedPolicy below) and JWT access tokens (jwt-access-tokens.ts).
 */
export function mayIntrospect(caller: Client, token: IntrospectedToken): boolean {
  // A public client proves nothing about who is asking (RFC 7662 §2.1).
  if (caller.clientAuthMethod === 'none') return false;
  if (token.clientId !== undefined && token.clientId === caller.clientId) return true;
  const introspectFor = (caller as unknown as { introspect_for?: string[] }).introspect_for ?? [];
  return audiencesOf(token).some((aud) => introspectFor.includes(aud));
}

/** Epoch seconds before which the client's access tokens are inactive (repository.ts tokensNotBeforeOf). */
const tokensNotBeforeOf = (client: Client) => (client as unknown as { tokens_not_before?: number }).tokens_not_before ?? 0;

/**
 * Whether a token is still honoured as far as its client goes. The client
 * must exist now — a deleted client's tokens die with it, client_credentials
 * tokens included, which belong to no grant that could be revoked — and an
 * access token must not be older than the client's current credentials (a
 * replaced secret, or an earlier client of the same id). The lookup is
 * checked against the latest change, at whichever instance it was made.
 * `caller`, the client making the request, stands in for the token's client
 * when it is that client: it was just looked up.
 */
export async function honouredByItsClient(
  provider: Pick<Provider, 'Client'>,
  token: { clientId?: string; iat?: number; kind?: string },
  caller?: Client,
): Promise<boolean> {
  if (typeof token.clientId !== 'string') return false;
  const client = caller?.clientId === token.clientId ? caller : await provider.Client.find(token.clientId);
  if (!client) return false;
  // a refresh token is used only with the client's current credentials
  if (token.kind === 'RefreshToken') return true;
  return typeof token.iat === 'number' && token.iat >= tokensNotBeforeOf(client);
}

export async function introspectionAllowedPolicy(ctx: KoaContextWithOIDC, caller: Client, token: IntrospectedToken & { iat?: number; kind?: string }): Promise<boolean> {
  return mayIntrospect(caller, token) && honouredByItsClient(ctx.oidc.provider, token, caller);
}

/**
 * Revocation: the token's own client only. Another confidential client is told
 * it may not (as oidc-provider does by default); a public one learns nothing.
 */
export async function revocationAllowedPolicy(_ctx: KoaContextWithOIDC, caller: Client, token: { clientId?: string }): Promise<boolean> {
  if (token.clientId === caller.clientId) return true;
  if (caller.clientAuthMethod === 'none') return false;
  throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
}
