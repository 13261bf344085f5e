import { absoluteUri, list, object, pagination, scopeToken, text, type JsonSchema } from './common.ts';

/** Native apps, key-based clients, PAR and JAR (src/clients/client-kinds.ts, src/provider/client-keys.ts) */
interface ClientKindFields {
  application_type?: 'web' | 'native';
  require_pushed_authorization_requests?: boolean;
  require_signed_request_object?: boolean;
}

/** mTLS (RFC 8705): one subject field for tls_client_auth, and whether its tokens are bound */
interface TlsClientAuthFields extends ClientKindFields {
  tls_client_auth_subject_dn?: string;
  tls_client_auth_san_dns?: string;
  tls_client_auth_san_uri?: string;
  tls_client_auth_san_ip?: string;
  tls_client_auth_san_email?: string;
  tls_client_certificate_bound_access_tokens?: boolean;
}

export interface CreateClientBody extends TlsClientAuthFields {
  name: string;
  grant_types: string[];
  redirect_uris?: string[];
  post_logout_redirect_uris?: string[];
  scopes?: string[];
  public?: boolean;
  first_party?: boolean;
  require_mfa?: boolean;
  token_endpoint_auth_method?: string;
  introspect_for?: string[];
  token_exchange_audiences?: string[];
  token_exchange_impersonation?: boolean;
  web_origins?: string[];
  backchannel_logout_uri?: string;
  backchannel_logout_session_required?: boolean;
  jwks?: { keys: Array<Record<string, unknown>> };
  jwks_uri?: string;
}

/**
 * mTLS (RFC 8705): the certificate subject of a tls_client_auth client, one of
 * them, and certificate-bound access tokens. Both need mTLS configured on the
 * server (TLS_CLIENT_CA_FILE or TLS_CLIENT_CERT_HEADER); without it they are refused.
 */
const subjectValue: JsonSchema = { type: 'string', minLength: 1, maxLength: 1000 };
const TLS_CLIENT_AUTH_SUBJECT = {
  tls_client_auth_subject_dn: { ...subjectValue, description: 'tls_client_auth: the certificate subject DN, RFC 4514 (CN=svc,O=Example); one subject field only' },
  tls_client_auth_san_dns: { ...subjectValue, description: 'tls_client_auth: a dNSName SAN of the certificate (exact, no wildcard)' },
  tls_client_auth_san_uri: { ...subjectValue, description: 'tls_client_auth: a URI SAN of the certificate (exact)' },
  tls_client_auth_san_ip: { ...subjectValue, description: 'tls_client_auth: an iPAddress SAN of the certificate' },
  tls_client_auth_san_email: { ...subjectValue, description: 'tls_client_auth: an rfc822Name SAN of the certificate' },
};
/*
 * A client's public keys. The shape is bounded here (count, sizes, depth);
 * what the keys are (public, asymmetric, valid, no private member) is judged
 * by jwksProblem (src/provider/client-keys.ts), which names the member sent by
 * mistake.
 */
const jwkMember: JsonSchema = { anyOf: [{ type: 'string', maxLength: 4096 }, { type: 'array', maxItems: 5, items: { type: 'string', maxLength: 8192 } }] };
const JWKS: JsonSchema = {
  type: 'object', additionalProperties: false, required: ['keys'],
  properties: { keys: { type: 'array', minItems: 1, maxItems: 10, items: { type: 'object', required: ['kty'], properties: { kty: { type: 'string', minLength: 1, maxLength: 10 } }, maxProperties: 20, additionalProperties: jwkMember } } },
  description: 'the public keys the client signs with (private_key_jwt, request objects), as a JWK Set: RSA (2048 bits or more), EC or OKP public keys only, at most 10, 32 KiB in all; private members (d, p, q, dp, dq, qi, k) and symmetric keys are refused. Not with jwks_uri',
};
const JWKS_URI: JsonSchema = { ...absoluteUri, description: 'where the server fetches the client\'s public keys (a JWK Set, at most 64 KiB, cached per its Cache-Control): https at a public address; loopback only with JWKS_URI_ALLOW_LOOPBACK=true (development). Not with jwks' };
const CLIENT_KIND = {
  application_type: { type: 'string', enum: ['web', 'native'], description: 'native: an app on a device (RFC 8252): public, no client_credentials; redirect URIs http://127.0.0.1/… or http://[::1]/… (any port matches), a reverse-domain private-use scheme (com.example.app:/callback) or a claimed https URI. Absent: web (redirect URIs match exactly)' },
  require_pushed_authorization_requests: { type: 'boolean', description: 'authorization requests only through PAR (RFC 9126: POST /request, then /auth with its request_uri); absent: not required' },
  require_signed_request_object: { type: 'boolean', description: 'authorization requests only as a request object signed with one of the client\'s keys (RFC 9101); needs jwks or jwks_uri; absent: not required' },
};

const BOUND_TOKENS = { type: 'boolean', description: 'access tokens bound to the client certificate presented at the token endpoint (cnf.x5t#S256); absent: not bound' };

// Grant types and auth methods are bounded here but judged by the provider
// (clientMetadataValidator): it alone knows which ones are enabled.
const token: JsonSchema = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7E]+$' };
// the form is checked by the provider's metadata validation (src/provider/web-origins.ts)
const webOrigin: JsonSchema = { type: 'string', minLength: 1, maxLength: 300, pattern: '^[\\x21-\\x7E]+$' };
const TOKEN_EXCHANGE_AUDIENCES_DESCRIPTION = 'token exchange (RFC 8693): the registered resource identifiers this client may exchange tokens for (absent: none); needs the grant type urn:ietf:params:oauth:grant-type:token-exchange';
const TOKEN_EXCHANGE_IMPERSONATION_DESCRIPTION = 'token exchange: exchanged tokens carry no `act` claim naming this client (impersonation); absent: every exchanged token names it (delegation)';
const WEB_ORIGINS_DESCRIPTION = 'origins (scheme://host[:port]; https, or http on a loopback host) whose browser code may call the token, userinfo, revocation and introspection endpoints. Absent: the origins of the redirect URIs for a public client, none for a confidential one; [] none; ["*"] (alone) every origin';

export const createClientSchema: JsonSchema = {
  title: 'CreateClient',
  ...object({
    name: text(200),
    grant_types: list(token, 10, { minItems: 1 }),
    redirect_uris: list(absoluteUri, 50),
    post_logout_redirect_uris: list(absoluteUri, 50),
    scopes: { ...list(scopeToken, 200), description: "the client's allow-list: OIDC scopes and resource scopes (absent: none); `admin` grants the admin API (client_credentials only)" },
    public: { type: 'boolean', description: 'no secret; token_endpoint_auth_method none' },
    first_party: { type: 'boolean', description: 'skips consent and permits the password grant' },
    require_mfa: { type: 'boolean', description: 'every sign-in to this client proves a second factor (ID tokens: acr "mfa"); a person without one is asked to set one up first (absent: a password is enough)' },
    token_endpoint_auth_method: token,
    introspect_for: { ...list(absoluteUri, 50), description: 'resource identifiers whose tokens this client may introspect' },
    token_exchange_audiences: { ...list(absoluteUri, 50), description: TOKEN_EXCHANGE_AUDIENCES_DESCRIPTION },
    token_exchange_impersonation: { type: 'boolean', description: TOKEN_EXCHANGE_IMPERSONATION_DESCRIPTION },
    web_origins: { ...list(webOrigin, 50), description: WEB_ORIGINS_DESCRIPTION },
    backchannel_logout_uri: { ...absoluteUri, description: 'OpenID Connect Back-Channel Logout: where logout tokens are posted when a session ends (absent: none is sent); https, or http to a loopback address with BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK=true' },
    backchannel_logout_session_required: { type: 'boolean', description: 'logout tokens carry the sid (default true with a backchannel_logout_uri)' },
    ...TLS_CLIENT_AUTH_SUBJECT,
    tls_client_certificate_bound_access_tokens: BOUND_TOKENS,
    ...CLIENT_KIND,
    jwks: JWKS,
    jwks_uri: JWKS_URI,
  }, ['name', 'grant_types']),
};

export interface UpdateClientBody extends TlsClientAuthFields {
  name?: string;
  grant_types?: string[];
  redirect_uris?: string[];
  post_logout_redirect_uris?: string[];
  scopes?: string[];
  first_party?: boolean;
  require_mfa?: boolean;
  introspect_for?: string[];
  token_exchange_audiences?: string[];
  token_exchange_impersonation?: boolean;
  /** null: back to the default (see createClientSchema) */
  web_origins?: string[] | null;
  /** null removes it */
  backchannel_logout_uri?: string | null;
  backchannel_logout_session_required?: boolean;
  token_endpoint_auth_method?: string;
  /** null removes the keys; a given jwks replaces a jwks_uri (and the other way round) */
  jwks?: { keys: Array<Record<string, unknown>> } | null;
  jwks_uri?: string | null;
}

/**
 * A partial change: an absent field keeps its value, a given list replaces the
 * list ([] empties it). Whether the client is public (has a secret) is not
 * changed here: that is a new registration.
 */
export const updateClientSchema: JsonSchema = {
  title: 'UpdateClient',
  ...object({
    name: text(200),
    grant_types: list(token, 10, { minItems: 1 }),
    redirect_uris: list(absoluteUri, 50),
    post_logout_redirect_uris: list(absoluteUri, 50),
    scopes: { ...list(scopeToken, 200), description: 'replaces the allow-list; tokens already issued keep their scopes until they expire' },
    first_party: { type: 'boolean' },
    require_mfa: { type: 'boolean', description: 'false: a password is enough again (sessions that proved a second factor keep it)' },
    introspect_for: list(absoluteUri, 50),
    token_exchange_audiences: { ...list(absoluteUri, 50), description: `${TOKEN_EXCHANGE_AUDIENCES_DESCRIPTION}; [] none` },
    token_exchange_impersonation: { type: 'boolean', description: 'false: exchanged tokens name this client (act) again' },
    web_origins: { anyOf: [list(webOrigin, 50), { type: 'null' }], description: `${WEB_ORIGINS_DESCRIPTION}; null: back to the default` },
    backchannel_logout_uri: { anyOf: [absoluteUri, { type: 'null' }], description: 'where logout tokens are posted; null removes it' },
    backchannel_logout_session_required: { type: 'boolean' },
    token_endpoint_auth_method: { ...token, description: 'between the methods of a confidential client; to a secret method from tls_client_auth: the answer holds the new client_secret, once' },
    ...Object.fromEntries(Object.entries(TLS_CLIENT_AUTH_SUBJECT).map(([field, schema]) => [field, { ...schema, description: `${schema.description}; replaces the stored subject field` }])),
    tls_client_certificate_bound_access_tokens: { type: 'boolean', description: 'false: tokens issued from then on are not bound' },
    ...CLIENT_KIND,
    jwks: { anyOf: [JWKS, { type: 'null' }], description: `${JWKS.description}; replaces the stored keys (a jwks_uri too); null removes them` },
    jwks_uri: { anyOf: [JWKS_URI, { type: 'null' }], description: `${JWKS_URI.description}; replaces the stored keys (a jwks too); null removes it` },
  }, [], { minProperties: 1 }),
};

/** The longest grace period of a rotated secret: a handover, not a second credential. */
export const MAX_SECRET_GRACE_SECONDS = 7 * 24 * 3600;

export interface RotateSecretBody { grace_seconds?: number }

export const rotateSecretSchema: JsonSchema = {
  title: 'RotateSecret',
  ...object({
    grace_seconds: {
      type: 'integer', minimum: 0, maximum: MAX_SECRET_GRACE_SECONDS,
      description: 'how long the old secret still authenticates (absent or 0: not at all, and every access token issued so far is inactive at once)',
    },
  }),
};

export const clientSchema: JsonSchema = {
  title: 'Client',
  type: 'object',
  properties: {
    client_id: { type: 'string' },
    client_secret: { type: 'string', description: 'only in the answer to the creation or a secret rotation, once' },
    name: { type: 'string' },
    grant_types: { type: 'array', items: { type: 'string' } },
    redirect_uris: { type: 'array', items: { type: 'string' } },
    post_logout_redirect_uris: { type: 'array', items: { type: 'string' } },
    scopes: { type: 'array', items: { type: 'string' }, description: 'the allow-list; empty: no scope at all' },
    public: { type: 'boolean' },
    first_party: { type: 'boolean' },
    require_mfa: { type: 'boolean', description: 'sign-ins to this client prove a second factor' },
    token_endpoint_auth_method: { type: 'string' },
    introspect_for: { type: 'array', items: { type: 'string' } },
    token_exchange_audiences: { type: 'array', items: { type: 'string' }, description: 'the audiences this client may exchange tokens for; empty: none' },
    token_exchange_impersonation: { type: 'boolean', description: 'exchanged tokens carry no act claim naming this client' },
    web_origins: { type: ['array', 'null'], items: { type: 'string' }, description: 'as registered; null: the default' },
    effective_web_origins: { type: 'array', items: { type: 'string' }, description: 'the origins CORS allows now (web_origins, or the default)' },
    backchannel_logout_uri: { type: ['string', 'null'] },
    backchannel_logout_session_required: { type: 'boolean' },
    tls_client_auth_subject_dn: { type: 'string' },
    tls_client_auth_san_dns: { type: 'string' },
    tls_client_auth_san_uri: { type: 'string' },
    tls_client_auth_san_ip: { type: 'string' },
    tls_client_auth_san_email: { type: 'string' },
    tls_client_certificate_bound_access_tokens: { type: 'boolean' },
    application_type: { type: 'string', enum: ['web', 'native'] },
    jwks: { type: ['object', 'null'], description: 'the public keys as registered' },
    jwks_uri: { type: ['string', 'null'] },
    require_pushed_authorization_requests: { type: 'boolean' },
    require_signed_request_object: { type: 'boolean' },
    disabled: { type: 'boolean' },
    previous_secret_expires_at: { type: ['string', 'null'], format: 'date-time', description: 'until when the secret before the last rotation still authenticates' },
    dynamically_registered: { type: 'boolean', description: 'it registered itself (RFC 7591, /reg), not an admin' },
    registered_by: { type: ['string', 'null'], description: "a dynamically registered client's initial access token id, or anonymous (open registration)" },
    created_at: { type: 'string', format: 'date-time' },
  },
};

/** GET /clients: pagination, and ?dynamic=true|false for the clients that registered themselves (or not). */
export const clientListQuerySchema: JsonSchema = object({
  ...pagination,
  dynamic: { type: 'boolean', description: 'true: only clients that registered themselves; false: only those an admin registered; absent: all' },
});
