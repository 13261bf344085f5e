import { errors } from 'oidc-provider';
import type { Client, KoaContextWithOIDC } from 'oidc-provider';

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

export async function introspectionAllowedPolicy(_ctx: KoaContextWithOIDC, caller: Client, token: IntrospectedToken): Promise<boolean> {
  return mayIntrospect(caller, token);
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
