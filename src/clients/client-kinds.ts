import type { FieldProblem } from './client-policy.ts';

/*
 * The kinds of client Tessera registers, and what each may not be:
 *
 * - web (the default): redirect URIs are http(s) and match exactly.
 * - native (RFC 8252): an app on a device. It cannot keep a secret (every
 *   copy of the app holds the same one, §8.5), so it is public and gets no
 *   client_credentials; its redirect URIs are loopback IP addresses, where
 *   any port matches (§7.3: the app listens on a port it picks at run time),
 *   private-use schemes named after a domain (§7.1), or claimed https URIs
 *   (§7.2). `localhost` is refused (§8.3: a name can resolve elsewhere, or to
 *   the other IP family than the one the app listens on).
 * - key-based: authenticates with a signed JWT (private_key_jwt) made with a
 *   key whose public part it registered (`jwks` or `jwks_uri`).
 *
 * The provider enforces most of this itself once the metadata says so (a web
 * client's loopback URI matches its exact port only; a native client's http
 * URI must be loopback); these rules refuse, naming the field, what the
 * provider would accept but Tessera would not honour as asked.
 */

export type ApplicationType = 'web' | 'native';

export interface ClientKindInput {
  applicationType?: ApplicationType;
  public?: boolean;
  tokenEndpointAuthMethod?: string;
  grantTypes: readonly string[];
  redirectUris?: readonly string[];
  jwks?: unknown;
  jwksUri?: string;
  requireSignedRequestObject?: boolean;
}

/** Loopback IP literals of a native app's redirect URI (as URL.hostname writes them). */
const LOOPBACK_IP_HOSTS = new Set(['127.0.0.1', '[::1]']);

/** A private-use scheme that names a domain in reverse (RFC 8252 §7.1: com.example.app). */
const REVERSE_DOMAIN_SCHEME = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+:$/;

function nativeRedirectUriProblem(uri: string): string | undefined {
  const parsed = URL.parse(uri);
  if (!parsed) return undefined; // the provider names an unparseable URI
  if (parsed.protocol === 'http:') {
    if (parsed.hostname === 'localhost') {
      return `"${uri}": use http://127.0.0.1/… or http://[::1]/… rather than localhost (RFC 8252 §8.3); any port matches them`;
    }
    if (!LOOPBACK_IP_HOSTS.has(parsed.hostname)) return `"${uri}": plain http is only for the loopback addresses 127.0.0.1 and [::1] (RFC 8252 §7.3)`;
    return undefined;
  }
  if (parsed.protocol === 'https:') return undefined; // a claimed https URI (§7.2), matched exactly
  if (!REVERSE_DOMAIN_SCHEME.test(parsed.protocol)) {
    return `"${uri}": a private-use URI scheme must be a reverse domain name the app's publisher controls, such as com.example.app:/callback (RFC 8252 §7.1)`;
  }
  return undefined;
}

/** Why a registration of this kind is refused, by field (none: accepted, as far as these rules go). */
export function clientKindProblems(input: ClientKindInput): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const method = input.public ? 'none' : (input.tokenEndpointAuthMethod ?? 'client_secret_basic');
  if (input.applicationType === 'native') {
    if (method !== 'none') {
      problems.push(input.tokenEndpointAuthMethod !== undefined && !input.public
        ? { field: 'token_endpoint_auth_method', message: `a native app is a public client (RFC 8252 §8.5: a secret shipped in an app is no secret): "${method}" is refused, use none` }
        : { field: 'public', message: 'a native app is a public client (RFC 8252 §8.5: a secret shipped in an app is no secret): set public (token_endpoint_auth_method none)' });
    }
    if (input.grantTypes.includes('client_credentials')) {
      problems.push({ field: 'grant_types', message: 'client_credentials is refused for a native app: it has no credentials of its own (RFC 8252 §8.5)' });
    }
    for (const uri of input.redirectUris ?? []) {
      const problem = nativeRedirectUriProblem(uri);
      if (problem) problems.push({ field: 'redirect_uris', message: problem });
    }
  }
  if (method === 'client_secret_jwt') {
    problems.push({ field: 'token_endpoint_auth_method', message: 'client_secret_jwt is not supported: client secrets are stored as digests, so an HMAC made with one cannot be verified; use private_key_jwt with registered public keys' });
  }
  const hasKeys = input.jwks !== undefined || input.jwksUri !== undefined;
  if (input.jwks !== undefined && input.jwksUri !== undefined) {
    problems.push({ field: 'jwks_uri', message: 'give jwks or jwks_uri, not both' });
  }
  if (method === 'private_key_jwt' && !hasKeys) {
    problems.push({ field: 'jwks', message: 'private_key_jwt needs the public keys the client signs with: jwks or jwks_uri' });
  }
  if (method === 'self_signed_tls_client_auth') {
    const keys = (input.jwks as { keys?: Array<{ x5c?: unknown }> } | undefined)?.keys;
    if (!hasKeys) {
      problems.push({ field: 'jwks', message: 'self_signed_tls_client_auth needs the client\'s certificate, in jwks (a key with x5c) or at jwks_uri' });
    } else if (keys && !keys.some((key) => Array.isArray(key.x5c) && key.x5c.length > 0)) {
      problems.push({ field: 'jwks', message: 'self_signed_tls_client_auth needs the client\'s certificate: a key with x5c (RFC 8705 §2.2)' });
    }
  }
  if (input.requireSignedRequestObject && !hasKeys) {
    problems.push({ field: 'require_signed_request_object', message: 'signed request objects need the public keys the client signs with: jwks or jwks_uri' });
  }
  return problems;
}
