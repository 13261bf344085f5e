import type { ProviderStep } from './pipeline.ts';

/**
 * oidc-provider answers every refused authorization code with the same
 * `invalid_grant` / "grant request is invalid", and keeps the reason in the
 * error's `error_detail`, for logs. A developer exchanging a code by hand
 * cannot tell that it simply expired. This says why, in terms the caller can
 * act on — and no more than the caller could know:
 *
 * - an unknown, expired or already used code, or one issued to another
 *   client, get one and the same answer (the stores drop expired codes, so
 *   "expired" and "unknown" cannot be told apart anyway, and telling a used
 *   or another client's code from a made-up one would confirm it existed);
 * - a wrong code_verifier or redirect_uri is named: they are the caller's
 *   own inputs, and the code stays unusable without the right verifier.
 */
export function hintForRefusedCode(detail: unknown, codeTtlSeconds: number): string | undefined {
  switch (detail) {
    case 'authorization code not found':
    case 'authorization code is expired':
    case 'authorization code already consumed':
    case 'client mismatch':
    case 'grant not found':
    case 'grant is expired':
      return `the authorization code is expired, already used, revoked, or was not issued to this client: a code is valid for ${codeTtlSeconds} seconds and for one exchange; start the sign-in again for a new one`;
    case 'code_verifier must be provided':
      return 'code_verifier is missing: send the PKCE verifier whose S256 challenge was in the authorization request';
    case 'code_verifier does not match code_challenge':
      return 'code_verifier does not match the code_challenge of the authorization request';
    case 'authorization code redirect_uri mismatch':
      return 'redirect_uri differs from the one of the authorization request';
    default:
      return undefined;
  }
}

/** The hints, on the token endpoint's answers for grant_type=authorization_code. */
export function explainRefusedAuthorizationCodes(options: { codeTtlSeconds: number }): ProviderStep {
  return {
    name: 'a refused authorization code says why',
    listen: (provider) => provider.on('grant.error', (ctx, error) => {
      if (!ctx || ctx.oidc?.params?.grant_type !== 'authorization_code') return;
      const hint = hintForRefusedCode((error as { error_detail?: unknown }).error_detail, options.codeTtlSeconds);
      if (hint) ctx.state.refusedCodeHint = hint;
    }),
    middleware: async (ctx, next) => {
      await next();
      const hint = ctx.state.refusedCodeHint as string | undefined;
      const body = ctx.body as { error?: unknown } | undefined;
      if (hint && ctx.status === 400 && body && typeof body === 'object' && body.error === 'invalid_grant') {
        ctx.body = { ...body, error_description: hint };
      }
    },
  };
}
