import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { ADMIN_SCOPE, OIDC_SCOPES, clientKindProblems, registrationProblems, type NewClient, type Offer } from '../clients/index.ts';

/*
 * What a client that registers itself (RFC 7591) may be. The request is read
 * field by field into Tessera's own client shape (NewClient): only the fields
 * named here reach the stored registration, so anything else a request
 * carries is ignored (RFC 7591 §2: unknown metadata is ignored) and has no
 * effect. What would widen a client beyond an ordinary third-party
 * application is refused, naming the field, rather than dropped: a
 * registration that silently grants less than it asked for is how
 * misconfigurations go unnoticed.
 */

/** RFC 7591 §3.2.2 error codes. */
export type RegistrationErrorCode = 'invalid_redirect_uri' | 'invalid_client_metadata' | 'invalid_software_statement';

export interface RegistrationRefusal {
  readonly error: RegistrationErrorCode;
  readonly description: string;
  /** the fields at fault, for the audit log */
  readonly fields: readonly string[];
}

/** config.dynamicRegistration as far as the policy reads it. */
export interface DynamicClientPolicy {
  readonly grantTypes: readonly string[];
}

/**
 * Fields only an admin sets (the admin API), and the fields the server itself
 * issues (RFC 7592 §2.2: a client must not send them back). Present at all:
 * refused.
 */
const ADMIN_ONLY_FIELDS = [
  'first_party', 'require_mfa', 'introspect_for', 'allowed_scopes', 'web_origins', 'token_exchange_audiences', 'token_exchange_impersonation',
  'tokens_not_before', 'previous_client_secret', 'previous_client_secret_expires_at', 'bootstrap_admin', 'dynamically_registered',
  'backchannel_logout_uri', 'backchannel_logout_session_required',
  'tls_client_auth_subject_dn', 'tls_client_auth_san_dns', 'tls_client_auth_san_uri', 'tls_client_auth_san_ip', 'tls_client_auth_san_email',
  'tls_client_certificate_bound_access_tokens',
] as const;
const SERVER_ISSUED_FIELDS = ['registration_access_token', 'registration_client_uri', 'client_id_issued_at', 'client_secret_expires_at'] as const;

/** How a client that registers itself may authenticate: a secret Tessera generates, or none (a public client). */
export const DYNAMIC_CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;

// no control characters: a NUL (which Postgres refuses) made the registration a 500
const uriList = { type: 'array', maxItems: 20, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^[^\\u0000-\\u001f\\u007f]*$' } };

/** The shape of the fields Tessera reads; every string and list bounded. */
const REQUEST_SCHEMA = {
  type: 'object',
  maxProperties: 64,
  properties: {
    redirect_uris: uriList,
    post_logout_redirect_uris: uriList,
    grant_types: { type: 'array', minItems: 1, maxItems: 10, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 200 } },
    response_types: { type: 'array', maxItems: 10, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 100 } },
    token_endpoint_auth_method: { type: 'string', minLength: 1, maxLength: 100 },
    application_type: { enum: ['web', 'native'] },
    // no control characters, nor bidirectional controls: a name that reverses the text around it on the consent page
    // ("\u202Eknab ruoY") reads as something it is not
    client_name: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$' },
    scope: { type: 'string', maxLength: 4000, pattern: '^[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]*$' },
    client_id: { type: 'string', minLength: 1, maxLength: 256 },
    client_secret: { type: 'string', minLength: 1, maxLength: 512 },
  },
} as const;

const ajv = new Ajv2020({ allErrors: true, strict: false });
const checkShape = ajv.compile(REQUEST_SCHEMA);

function describeShapeError(error: ErrorObject): { field: string; message: string } {
  const field = error.instancePath.split('/')[1] || '(request)';
  return { field, message: `${error.instancePath ? error.instancePath.slice(1).replaceAll('/', '.') : 'the request'} ${error.message}` };
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
/** Schemes that are no redirect target anywhere (they run code or read files). */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'http:', 'https:', 'ftp:', 'ws:', 'wss:']);

/**
 * Why a redirect URI is refused for this application type; undefined when it
 * is fine. Web applications: https only. Native applications (RFC 8252): a
 * claimed https URI, http on a loopback address, or a private-use scheme in
 * reverse domain-name form (com.example.app:/callback).
 */
export function redirectUriProblem(uri: string, applicationType: 'web' | 'native'): string | undefined {
  const parsed = URL.parse(uri);
  if (!parsed) return `"${uri}" is not an absolute URI`;
  // the URI is stored and sent as written, and a browser follows it as parsed: `https://evil\@good/`
  // (a backslash is a slash), a look-alike Unicode host or `http://127.1/` would show an admin (or the audit log)
  // one host and send the codes to another. Only the parser's own spelling is taken, so what is read is where codes go
  if (parsed.href !== uri) return `"${uri}" is not written as a URL parser reads it: register "${parsed.href}"`;
  if (uri.includes('#')) return `"${uri}" has a fragment (RFC 6749 §3.1.2)`;
  if (parsed.username || parsed.password) return `"${uri}" carries credentials`;
  if (parsed.protocol === 'https:') {
    if (!parsed.hostname) return `"${uri}" has no host`;
    if (applicationType === 'native' && LOOPBACK_HOSTS.has(parsed.hostname)) return `"${uri}": a native app on a loopback address uses http (RFC 8252 §7.3)`;
    return undefined;
  }
  if (applicationType === 'web') return `"${uri}" is not https: a web application registers https redirect URIs only (loopback http and private-use schemes are for application_type native)`;
  if (parsed.protocol === 'http:') {
    return LOOPBACK_HOSTS.has(parsed.hostname) ? undefined : `"${uri}": http is only for a loopback address (127.0.0.1, [::1]) of a native app`;
  }
  if (FORBIDDEN_SCHEMES.has(parsed.protocol)) return `"${uri}" uses a scheme no redirect may use`;
  // RFC 8252 §7.1: a private-use scheme names a domain the app's publisher controls, reversed
  if (!parsed.protocol.slice(0, -1).includes('.')) return `"${uri}": a private-use scheme must be a reversed domain name (com.example.app:/callback, RFC 8252 §7.1)`;
  return undefined;
}

const refuse = (error: RegistrationErrorCode, problems: ReadonlyArray<{ field: string; message: string }>): RegistrationRefusal => ({
  error, description: problems.map((p) => p.message).join('; '), fields: [...new Set(problems.map((p) => p.field))],
});

/**
 * The client a registration request (RFC 7591 §2) describes, judged against
 * the policy and what the server offers; or why it is refused. `current` is
 * the client being replaced (RFC 7592 PUT): a public client stays public and
 * a confidential one confidential.
 */
export function clientOfRegistrationRequest(
  body: unknown, policy: DynamicClientPolicy, offer: Offer, current?: { public: boolean },
): { client: NewClient } | { refusal: RegistrationRefusal } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { refusal: refuse('invalid_client_metadata', [{ field: '(request)', message: 'the request body must be a JSON object of client metadata' }]) };
  }
  const request = body as Record<string, unknown>;
  // RFC 7591 §2.3: Tessera does not accept software statements; saying so beats ignoring one whose claims the client relies on
  if (request.software_statement !== undefined) {
    return { refusal: refuse('invalid_software_statement', [{ field: 'software_statement', message: 'software statements are not supported here; register without one' }]) };
  }
  if (!checkShape(request)) return { refusal: refuse('invalid_client_metadata', (checkShape.errors ?? []).map(describeShapeError)) };

  const problems: Array<{ field: string; message: string }> = [];
  for (const field of ADMIN_ONLY_FIELDS) {
    if (request[field] !== undefined) problems.push({ field, message: `${field} is set by an administrator only, never by a client that registers itself` });
  }
  for (const field of SERVER_ISSUED_FIELDS) {
    if (request[field] !== undefined) problems.push({ field, message: `${field} is issued by the server and cannot be sent` });
  }
  if (!current && (request.client_id !== undefined || request.client_secret !== undefined)) {
    problems.push({ field: request.client_id !== undefined ? 'client_id' : 'client_secret', message: 'the client_id and client_secret are chosen by the server' });
  }

  const applicationType = (request.application_type as 'web' | 'native' | undefined) ?? 'web';
  // RFC 7591 §2 defaults: authorization_code, code, client_secret_basic
  const grantTypes = (request.grant_types as string[] | undefined) ?? ['authorization_code'];
  const method = (request.token_endpoint_auth_method as string | undefined) ?? 'client_secret_basic';
  const isPublic = method === 'none';
  const scopes = ((request.scope as string | undefined) ?? '').split(' ').filter(Boolean);

  for (const grantType of grantTypes) {
    if (grantType === 'password') problems.push({ field: 'grant_types', message: 'the password grant is only for first-party clients, which a client cannot register itself as' });
    else if (!policy.grantTypes.includes(grantType)) problems.push({ field: 'grant_types', message: `"${grantType}" is not open to clients that register themselves here (allowed: ${policy.grantTypes.join(', ') || 'none'})` });
  }
  const usesCode = grantTypes.includes('authorization_code');
  const responseTypes = (request.response_types as string[] | undefined) ?? (usesCode ? ['code'] : []);
  if (JSON.stringify(responseTypes) !== JSON.stringify(usesCode ? ['code'] : [])) {
    problems.push({ field: 'response_types', message: usesCode ? 'response_types must be ["code"] (no implicit or hybrid flow)' : 'response_types must be empty without the authorization_code grant' });
  }
  if (!(DYNAMIC_CLIENT_AUTH_METHODS as readonly string[]).includes(method)) {
    problems.push({ field: 'token_endpoint_auth_method', message: `"${method}" is not supported for clients that register themselves; use ${DYNAMIC_CLIENT_AUTH_METHODS.join(', ')}` });
  }
  if (current && current.public !== isPublic) {
    problems.push({ field: 'token_endpoint_auth_method', message: 'a public client stays public and a confidential one confidential: register a new client instead' });
  }
  for (const scope of scopes) {
    if (scope === ADMIN_SCOPE) problems.push({ field: 'scope', message: '"admin" is never given to a client that registers itself' });
    else if (!OIDC_SCOPES.includes(scope) && !offer.dynamicClientScopes.has(scope)) {
      problems.push({ field: 'scope', message: `"${scope}" is not offered to clients that register themselves (OpenID Connect scopes, and the scopes of resource servers open to dynamic clients)` });
    }
  }
  // the rules every registration obeys (REGISTRABLE_GRANT_TYPES, no client_credentials for a public client)
  for (const problem of registrationProblems({ grantTypes, scopes: scopes.filter((s) => s !== ADMIN_SCOPE), public: isPublic, firstParty: false }, offer)) {
    if (!problems.some((p) => p.message === problem.message)) problems.push({ field: problem.field === 'scopes' ? 'scope' : problem.field, message: problem.message });
  }
  // what the client's kind may not be, as at the admin API: a native app is public and has no client_credentials (RFC 8252 §8.5)
  const kind = clientKindProblems({ applicationType, public: isPublic, tokenEndpointAuthMethod: method, grantTypes });
  for (const problem of kind) problems.push({ field: problem.field === 'public' ? 'token_endpoint_auth_method' : problem.field, message: problem.message });
  if (problems.length) return { refusal: refuse('invalid_client_metadata', problems) };

  const redirectUris = (request.redirect_uris as string[] | undefined) ?? [];
  const redirectProblems: Array<{ field: string; message: string }> = [];
  if (usesCode && !redirectUris.length) redirectProblems.push({ field: 'redirect_uris', message: 'redirect_uris are required with the authorization_code grant' });
  if (!usesCode && redirectUris.length) redirectProblems.push({ field: 'redirect_uris', message: 'redirect_uris are only for the authorization_code grant' });
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri, applicationType);
    if (problem) redirectProblems.push({ field: 'redirect_uris', message: problem });
  }
  if (redirectProblems.length) return { refusal: refuse('invalid_redirect_uri', redirectProblems) };
  const postLogoutRedirectUris = (request.post_logout_redirect_uris as string[] | undefined) ?? [];
  const logoutProblems = postLogoutRedirectUris.flatMap((uri) => {
    const problem = redirectUriProblem(uri, applicationType);
    return problem ? [{ field: 'post_logout_redirect_uris', message: problem }] : [];
  });
  if (logoutProblems.length) return { refusal: refuse('invalid_client_metadata', logoutProblems) };

  return {
    client: {
      // the name people see on the consent page; the client chose it (docs/security.md)
      name: (request.client_name as string | undefined) ?? 'Unnamed application',
      grantTypes,
      redirectUris,
      postLogoutRedirectUris,
      // absent means nothing: no scope asked for, none allowed
      scopes,
      public: isPublic,
      tokenEndpointAuthMethod: method,
      firstParty: false,
      introspectFor: [],
      ...(applicationType === 'native' ? { applicationType } : {}),
    },
  };
}
