import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { KeyMaterial } from '../keys/index.ts';
import { publicJwks } from '../keys/index.ts';
import type { TokenState } from '../tokens/index.ts';
import { ADMIN_SCOPE, adminResourceOf } from '../provider/index.ts';
import { problem } from './problem.ts';
import type { CertificateOf } from '../http/index.ts';

export interface AdminPrincipal {
  clientId: string;
  subject: string;
  scopes: string[];
  jti: string;
}

/** True for a token without cnf.x5t#S256, or when the request presents the certificate whose thumbprint it names. */
function boundCertificatePresented(payload: JWTPayload, req: IncomingMessage, certificateOf: CertificateOf | undefined): boolean {
  const expected = (payload.cnf as Record<string, unknown> | undefined)?.['x5t#S256'];
  if (expected === undefined) return true;
  const certificate = certificateOf?.(req);
  if (typeof expected !== 'string' || !certificate) return false;
  const actual = Buffer.from(hash('sha256', certificate.raw, 'base64url'));
  const wanted = Buffer.from(expected);
  return actual.length === wanted.length && timingSafeEqual(actual, wanted);
}

/**
 * The admin API accepts only JWT access tokens this server issued for the
 * admin resource, not revoked, carrying the `admin` scope.
 */
export function requireAdminToken(deps: {
  issuer: string;
  keys: KeyMaterial;
  tokenState: TokenState;
  /**
   * a deleted client's tokens stop working with it, and so do those of a
   * client no longer allowed `admin`, and those issued (`iat`) before the
   * client's current secret
   */
  clientMayAdminister: (clientId: string, issuedAt: number | undefined) => Promise<boolean>;
  /** the request's client certificate (mTLS); absent: a certificate-bound token is refused */
  certificateOf?: CertificateOf;
}) {
  const jwks = createLocalJWKSet(publicJwks(deps.keys));
  const audience = adminResourceOf(deps.issuer);
  const realm = `Bearer realm="${deps.issuer}"`;

  return async (ctx: Context, next: Next) => {
    const header = ctx.get('authorization');
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    if (!match) {
      ctx.set('WWW-Authenticate', realm);
      return problem(ctx, 401, 'Unauthorized', 'a bearer access token for the admin API is required');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1], jwks, { issuer: deps.issuer, audience, typ: 'at+jwt', algorithms: ['ES256', 'RS256'] }));
    } catch {
      ctx.set('WWW-Authenticate', `${realm}, error="invalid_token"`);
      return problem(ctx, 401, 'Unauthorized', 'the access token is invalid or expired');
    }
    if (typeof payload.jti !== 'string' || typeof payload.client_id !== 'string'
      || await deps.tokenState.denylist.has(payload.jti) || !(await deps.clientMayAdminister(payload.client_id, payload.iat))) {
      ctx.set('WWW-Authenticate', `${realm}, error="invalid_token"`);
      return problem(ctx, 401, 'Unauthorized', 'the access token has been revoked');
    }
    // DPoP-bound (RFC 9449): the admin API verifies no DPoP proofs, so such a token is refused
    // rather than accepted as a bearer token, which would undo the binding
    if ((payload.cnf as Record<string, unknown> | undefined)?.jkt !== undefined) {
      ctx.set('WWW-Authenticate', `${realm}, error="invalid_token"`);
      return problem(ctx, 401, 'Unauthorized', 'the admin API does not accept DPoP-bound access tokens: ask for a bearer token');
    }
    // certificate-bound (RFC 8705 §3): only with the certificate it was issued to
    if (!boundCertificatePresented(payload, ctx.req, deps.certificateOf)) {
      ctx.set('WWW-Authenticate', `${realm}, error="invalid_token"`);
      return problem(ctx, 401, 'Unauthorized', 'the access token is bound to a client certificate that this request does not present');
    }
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    ctx.set('X-OAuth-Scopes', scopes.join(' '));
    ctx.set('X-Accepted-OAuth-Scopes', ADMIN_SCOPE);
    if (!scopes.includes(ADMIN_SCOPE)) {
      ctx.set('WWW-Authenticate', `${realm}, error="insufficient_scope", scope="${ADMIN_SCOPE}"`);
      return problem(ctx, 403, 'Forbidden', `the access token lacks the "${ADMIN_SCOPE}" scope`);
    }
    ctx.state.admin = {
      clientId: String(payload.client_id ?? ''),
      subject: String(payload.sub ?? ''),
      scopes,
      jti: payload.jti,
    } satisfies AdminPrincipal;
    await next();
  };
}
