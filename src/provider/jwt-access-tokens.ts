import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { errors } from 'oidc-provider';
import type { default as Provider, Client, KoaContextWithOIDC } from 'oidc-provider';
import type { KeyMaterial } from '../keys/index.ts';
import { publicJwks } from '../keys/index.ts';
import type { TokenState } from '../tokens/index.ts';
import { honouredByItsClient, mayIntrospect } from './introspection.ts';
import type { ProviderStep } from './pipeline.ts';

/*
 * oidc-provider never stores JWT access tokens, and its revocation and
 * introspection endpoints refuse them (unsupported_token_type). Resource
 * servers need both (DESIGN "Token rules"), so Tessera answers for JWTs itself.
 *
 * It does so as a post-middleware of the provider rather than as a route in
 * front of it: the provider has then already parsed the body, rejected
 * duplicated parameters and authenticated the client with every method the
 * server enables (client_secret_basic / _post through the digest compare of
 * compareSecretsByDigest, private_key_jwt, ...), and has found that the token
 * is a JWT. Nothing of client authentication is implemented twice, and the
 * provider's requests that do not concern a JWT pass through untouched.
 */

interface JwtAccessTokenDeps {
  provider: Provider;
  keys: KeyMaterial;
  tokenState: Pick<TokenState, 'denylist'>;
}

const ROUTES = new Set(['introspection', 'revocation']);
const FLAG = 'tesseraJwtAccessToken';

type Claims = JWTPayload & { jti: string; exp: number; iat: number; client_id: string; scope?: unknown; cnf?: { jkt?: string }; act?: unknown };

function isStructured(claims: JWTPayload): claims is Claims {
  return typeof claims.jti === 'string' && typeof claims.client_id === 'string'
    && typeof claims.exp === 'number' && typeof claims.iat === 'number';
}

export type JwtAccessTokenAnswers = ReturnType<typeof createJwtAccessTokenAnswers>;

/**
 * What introspection and revocation answer for a JWT access token, once the
 * caller is authenticated: used by the provider hook below and by the fast
 * path in front of the provider (jwt-endpoints-fast-path.ts).
 */
export function createJwtAccessTokenAnswers(deps: JwtAccessTokenDeps) {
  const { provider } = deps;
  const jwks = createLocalJWKSet(publicJwks(deps.keys));
  const algorithms = [...new Set(deps.keys.signingKeys.keys.map((key) => key.alg).filter((alg): alg is string => !!alg))];

  /** The token's claims when it is a JWT access token we issued and it has not expired; else undefined. */
  async function verify(token: string): Promise<Claims | undefined> {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: provider.issuer,
        typ: 'at+jwt',
        algorithms,
        requiredClaims: ['jti', 'exp', 'iat', 'client_id'],
      });
      return isStructured(payload) ? payload : undefined;
    } catch {
      // tampered, foreign, expired, malformed: all the same to the caller
      return undefined;
    }
  }

  return {
    /** A JWT access token we issued, unexpired, as its claims (token exchange reads subject tokens with it); else undefined. */
    verify,

    /** RFC 7662 answer for `caller` (authenticated, confidential). */
    async introspection(caller: Client, token: string): Promise<Record<string, unknown>> {
      const claims = await verify(token);
      if (!claims || !mayIntrospect(caller, { clientId: claims.client_id, aud: claims.aud })) return { active: false };
      if (await deps.tokenState.denylist.has(claims.jti)) return { active: false };
      if (!(await honouredByItsClient(provider, { clientId: claims.client_id, iat: claims.iat }, caller))) return { active: false };
      const dpopBound = typeof claims.cnf?.jkt === 'string';
      return {
        active: true,
        scope: typeof claims.scope === 'string' && claims.scope ? claims.scope : undefined,
        client_id: claims.client_id,
        sub: claims.sub,
        aud: claims.aud,
        exp: claims.exp,
        iat: claims.iat,
        iss: claims.iss,
        jti: claims.jti,
        token_type: dpopBound ? 'DPoP' : 'Bearer',
        cnf: claims.cnf,
        // who acts for the subject (token exchange, RFC 8693 §4.1)
        act: claims.act,
      };
    },

    /**
     * RFC 7009: unknown, invalid and expired tokens get 200 all the same; only
     * the token's own client may revoke it. A confidential client presenting
     * another client's token is told so (InvalidRequest), as the provider does
     * for opaque tokens.
     */
    async revocation(caller: Client, token: string): Promise<void> {
      const claims = await verify(token);
      if (claims && claims.client_id !== caller.clientId && caller.clientAuthMethod !== 'none') {
        throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
      }
      if (claims && claims.client_id === caller.clientId) await deps.tokenState.denylist.add(claims.jti, claims.exp);
    },
  };
}

export function answerForJwtAccessTokens(answers: JwtAccessTokenAnswers): ProviderStep {
  // The provider's own refusal of a JWT is the signal, with client
  // authentication and parameter checks already passed.
  const markJwt = (ctx: KoaContextWithOIDC, error: unknown) => {
    if (error instanceof errors.UnsupportedTokenType && ctx?.state) ctx.state[FLAG] = true;
  };
  return {
    name: 'introspection and revocation answer for JWT access tokens (the provider refuses them)',
    listen: (provider) => {
      provider.on('introspection.error', markJwt);
      provider.on('revocation.error', markJwt);
    },
    middleware: async (ctx, next) => {
      await next();
      const { oidc } = ctx;
      if (!oidc || !ROUTES.has(oidc.route)) return;

      // Introspection is for authenticated clients (RFC 7662 §2.1): a public
      // client learns nothing about any token, JWT or opaque.
      if (oidc.route === 'introspection' && oidc.client?.clientAuthMethod === 'none') {
        ctx.status = 401;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { error: 'invalid_client', error_description: 'introspection requires client authentication' };
        return;
      }

      const token = oidc.params?.token;
      if (!ctx.state[FLAG] || typeof token !== 'string' || !oidc.client) return;
      try {
        if (oidc.route === 'introspection') {
          ctx.set('Cache-Control', 'no-store');
          ctx.status = 200;
          ctx.body = await answers.introspection(oidc.client, token);
        } else {
          await answers.revocation(oidc.client, token);
          ctx.status = 200;
          ctx.remove('Content-Type');
          ctx.body = '';
        }
      } catch (error) {
        if (error instanceof errors.OIDCProviderError && error.status < 500) {
          ctx.status = error.status;
          ctx.body = { error: error.error, error_description: error.error_description };
          return;
        }
        // Logged, and a store outage turned into 503 + Retry-After, by the
        // provider's server_error listeners (events.ts, outage.ts).
        oidc.provider.emit('server_error', ctx, error as Error);
        ctx.status = 500;
        ctx.body = { error: 'server_error', error_description: 'oops! something went wrong' };
      }
    },
  };
}
