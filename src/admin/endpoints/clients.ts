import { ADMIN_SCOPE, allowListOf, authenticatesWithSecret, clientKindProblems, generateClientSecret, newClientOfRecord, registrationProblems, TLS_CLIENT_AUTH_SUBJECT_FIELDS, type ClientRecord, type NewClient, type TlsClientAuthSubject } from '../../clients/index.ts';
import { ANY_ORIGIN, backchannelLogoutUriProblem, clientMetadataValidator, effectiveWebOrigins, InvalidClientMetadataError, jwksProblem, jwksUriProblem } from '../../provider/index.ts';
import { AdminProblem, iso, notFound, page, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { pathId } from '../schemas/common.ts';
import {
  clientListQuerySchema, clientSchema, createClientSchema, rotateSecretSchema, updateClientSchema,
  type CreateClientBody, type RotateSecretBody, type UpdateClientBody,
} from '../schemas/clients.ts';
import { emptyBodySchema } from '../schemas/users.ts';

/** What the API shows of a client: never its secret nor the secret's digest. */
export function clientView(client: ClientRecord) {
  const m = client.metadata as Record<string, unknown>;
  return {
    client_id: client.clientId,
    name: client.name,
    grant_types: m.grant_types ?? [],
    redirect_uris: m.redirect_uris ?? [],
    post_logout_redirect_uris: m.post_logout_redirect_uris ?? [],
    scopes: allowListOf(m),
    public: m.token_endpoint_auth_method === 'none',
    first_party: client.firstParty,
    require_mfa: m.require_mfa === true,
    token_endpoint_auth_method: m.token_endpoint_auth_method,
    introspect_for: client.introspectFor,
    token_exchange_audiences: Array.isArray(m.token_exchange_audiences) ? m.token_exchange_audiences : [],
    token_exchange_impersonation: m.token_exchange_impersonation === true,
    web_origins: Array.isArray(m.web_origins) ? m.web_origins : null,
    effective_web_origins: effectiveWebOrigins({ web_origins: m.web_origins, tokenEndpointAuthMethod: m.token_endpoint_auth_method as string | undefined, redirectUris: m.redirect_uris as string[] | undefined, application_type: m.application_type as string | undefined }),
    backchannel_logout_uri: typeof m.backchannel_logout_uri === 'string' ? m.backchannel_logout_uri : null,
    backchannel_logout_session_required: m.backchannel_logout_session_required === true,
    ...Object.fromEntries(TLS_CLIENT_AUTH_SUBJECT_FIELDS.filter((field) => typeof m[field] === 'string').map((field) => [field, m[field]])),
    tls_client_certificate_bound_access_tokens: m.tls_client_certificate_bound_access_tokens === true,
    application_type: m.application_type === 'native' ? 'native' : 'web',
    jwks: typeof m.jwks === 'object' && m.jwks !== null ? m.jwks : null,
    jwks_uri: typeof m.jwks_uri === 'string' ? m.jwks_uri : null,
    require_pushed_authorization_requests: m.require_pushed_authorization_requests === true,
    require_signed_request_object: m.require_signed_request_object === true,
    disabled: client.disabled,
    previous_secret_expires_at: client.previousSecretExpiresAt && client.previousSecretExpiresAt.getTime() > Date.now() ? iso(client.previousSecretExpiresAt) : null,
    dynamically_registered: client.dynamicallyRegistered,
    registered_by: client.registeredBy,
    created_at: iso(client.createdAt),
  };
}

/** The fields of a PATCH that differ from what is stored, by their API names. */
function changedFields(before: NewClient, after: NewClient): string[] {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const pairs: Array<[string, unknown, unknown]> = [
    ['name', before.name, after.name],
    ['grant_types', before.grantTypes, after.grantTypes],
    ['redirect_uris', before.redirectUris, after.redirectUris],
    ['post_logout_redirect_uris', before.postLogoutRedirectUris, after.postLogoutRedirectUris],
    ['scopes', before.scopes, after.scopes],
    ['first_party', !!before.firstParty, !!after.firstParty],
    ['require_mfa', !!before.requireMfa, !!after.requireMfa],
    ['introspect_for', before.introspectFor, after.introspectFor],
    ['token_exchange_audiences', before.tokenExchangeAudiences ?? [], after.tokenExchangeAudiences ?? []],
    ['token_exchange_impersonation', !!before.tokenExchangeImpersonation, !!after.tokenExchangeImpersonation],
    ['web_origins', before.webOrigins, after.webOrigins],
    ['backchannel_logout_uri', before.backchannelLogoutUri, after.backchannelLogoutUri],
    ['backchannel_logout_session_required', before.backchannelLogoutSessionRequired, after.backchannelLogoutSessionRequired],
    ['token_endpoint_auth_method', before.tokenEndpointAuthMethod, after.tokenEndpointAuthMethod],
    ['tls_client_auth_subject', before.tlsClientAuth, after.tlsClientAuth],
    ['tls_client_certificate_bound_access_tokens', !!before.tlsClientCertificateBoundAccessTokens, !!after.tlsClientCertificateBoundAccessTokens],
    ['application_type', before.applicationType ?? 'web', after.applicationType ?? 'web'],
    ['jwks', before.jwks, after.jwks],
    ['jwks_uri', before.jwksUri, after.jwksUri],
    ['require_pushed_authorization_requests', !!before.requirePushedAuthorizationRequests, !!after.requirePushedAuthorizationRequests],
    ['require_signed_request_object', !!before.requireSignedRequestObject, !!after.requireSignedRequestObject],
  ];
  return pairs.filter(([, a, b]) => !same(a, b)).map(([field]) => field);
}

/** The provider names metadata properties; the operator knows the admin API's field names. */
const FIELD_OF_METADATA: Array<[RegExp, string]> = [
  [/\bpost_logout_redirect_uris\b/, 'post_logout_redirect_uris'],
  [/\bredirect_uris?\b/, 'redirect_uris'],
  [/\b(grant_types|response_types)\b/, 'grant_types'],
  [/\btoken_endpoint_auth_method\b/, 'token_endpoint_auth_method'],
  [/\b(allowed_scopes|scope)\b/, 'scopes'],
  [/\bintrospect_for\b/, 'introspect_for'],
  [/\btoken_exchange_audiences\b/, 'token_exchange_audiences'],
  [/\btoken_exchange_impersonation\b/, 'token_exchange_impersonation'],
  [/\bweb_origins\b/, 'web_origins'],
  [/\bclient_name\b/, 'name'],
  [/\bbackchannel_logout_uri\b/, 'backchannel_logout_uri'],
  [/\btls_client_certificate_bound_access_tokens\b/, 'tls_client_certificate_bound_access_tokens'],
  [/\btls_client_auth\b/, 'tls_client_auth_subject_dn'],
  [/\bjwks_uri\b/, 'jwks_uri'],
  [/\b(jwks|JSON Web Key Set)\b/, 'jwks'],
  [/\bapplication_type\b/, 'application_type'],
  [/\brequire_pushed_authorization_requests\b/, 'require_pushed_authorization_requests'],
  [/\brequire_signed_request_object\b/, 'require_signed_request_object'],
];

/** The tls_client_auth_* fields a body gives; undefined when it gives none. */
function tlsClientAuthSubjectOf(body: Partial<Record<(typeof TLS_CLIENT_AUTH_SUBJECT_FIELDS)[number], string>>): TlsClientAuthSubject | undefined {
  const given = TLS_CLIENT_AUTH_SUBJECT_FIELDS.filter((field) => body[field] !== undefined);
  return given.length ? Object.fromEntries(given.map((field) => [field, body[field]])) : undefined;
}

/** The keys after a PATCH: one source at a time, so giving one drops the other; null removes it. */
function keysOf(body: UpdateClientBody, before: NewClient): Pick<NewClient, 'jwks' | 'jwksUri'> {
  if (body.jwks !== undefined && body.jwks !== null) return { jwks: body.jwks, jwksUri: body.jwks_uri ?? undefined };
  if (body.jwks_uri !== undefined && body.jwks_uri !== null) return { jwks: body.jwks ?? undefined, jwksUri: body.jwks_uri };
  return {
    jwks: body.jwks === null ? undefined : before.jwks,
    jwksUri: body.jwks_uri === null ? undefined : before.jwksUri,
  };
}

const fieldOf = (message: string) => FIELD_OF_METADATA.find(([pattern]) => pattern.test(message))?.[1] ?? '(client)';

function newClientOf(body: CreateClientBody): NewClient {
  return {
    name: body.name,
    grantTypes: body.grant_types,
    redirectUris: body.redirect_uris,
    postLogoutRedirectUris: body.post_logout_redirect_uris,
    scopes: body.scopes,
    public: body.public,
    firstParty: body.first_party,
    requireMfa: body.require_mfa,
    tokenEndpointAuthMethod: body.token_endpoint_auth_method,
    introspectFor: body.introspect_for,
    tokenExchangeAudiences: body.token_exchange_audiences,
    tokenExchangeImpersonation: body.token_exchange_impersonation,
    webOrigins: body.web_origins,
    backchannelLogoutUri: body.backchannel_logout_uri,
    backchannelLogoutSessionRequired: body.backchannel_logout_session_required,
    tlsClientAuth: tlsClientAuthSubjectOf(body),
    tlsClientCertificateBoundAccessTokens: body.tls_client_certificate_bound_access_tokens,
    applicationType: body.application_type === 'native' ? 'native' : undefined,
    jwks: body.jwks,
    jwksUri: body.jwks_uri,
    requirePushedAuthorizationRequests: body.require_pushed_authorization_requests,
    requireSignedRequestObject: body.require_signed_request_object,
  };
}

/**
 * mTLS registrations are refused on a server without mTLS (no client
 * certificate source configured): such a client could never authenticate, or
 * would silently get bearer tokens. A subject without tls_client_auth is refused
 * rather than dropped. (Exactly one subject field: the provider's own rule.)
 */
function mtlsRegistrationProblem(input: NewClient, mtlsConfigured: boolean): { field: string; message: string } | undefined {
  const method = input.public ? 'none' : input.tokenEndpointAuthMethod;
  if (input.tlsClientAuth && method !== 'tls_client_auth') {
    return { field: Object.keys(input.tlsClientAuth)[0], message: 'a certificate subject is only for token_endpoint_auth_method tls_client_auth' };
  }
  if (!mtlsConfigured && method === 'tls_client_auth') {
    return { field: 'token_endpoint_auth_method', message: 'tls_client_auth needs mTLS, which this server has not configured (TLS_CLIENT_CA_FILE or TLS_CLIENT_CERT_HEADER)' };
  }
  if (!mtlsConfigured && method === 'self_signed_tls_client_auth') {
    return { field: 'token_endpoint_auth_method', message: 'self_signed_tls_client_auth needs mTLS, which this server has not configured (TLS_CLIENT_CA_FILE or TLS_CLIENT_CERT_HEADER)' };
  }
  if (method === 'self_signed_tls_client_auth' && input.tlsClientCertificateBoundAccessTokens) {
    // userinfo and the admin API compare bindings with CA-verified certificates only: the tokens would be refused there
    return { field: 'tls_client_certificate_bound_access_tokens', message: 'certificate-bound access tokens are not offered with self_signed_tls_client_auth (they are checked against CA-verified certificates only)' };
  }
  if (!mtlsConfigured && input.tlsClientCertificateBoundAccessTokens) {
    return { field: 'tls_client_certificate_bound_access_tokens', message: 'certificate-bound access tokens need mTLS, which this server has not configured (TLS_CLIENT_CA_FILE or TLS_CLIENT_CERT_HEADER)' };
  }
  return undefined;
}

export function clientRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { clients, resources, audit } = deps.services;
  const validate = clientMetadataValidator(deps.provider as never);
  const tag = 'clients';
  const params = { clientId: pathId };

  /** Tessera's registration rules, then the provider's own validation: the same for a creation and a change. */
  async function checkRegistration(input: NewClient): Promise<void> {
    const logoutUriProblem = input.backchannelLogoutUri === undefined ? undefined
      : backchannelLogoutUriProblem(input.backchannelLogoutUri, { allowLoopback: deps.config.backchannelLogout?.allowLoopback === true });
    if (logoutUriProblem) throw new AdminProblem(400, 'Invalid client metadata', `backchannel_logout_uri ${logoutUriProblem}`, [{ field: 'backchannel_logout_uri', message: logoutUriProblem }]);
    const mtlsProblem = mtlsRegistrationProblem(input, !!deps.certificateOf);
    if (mtlsProblem) throw new AdminProblem(400, 'Invalid client metadata', mtlsProblem.message, [mtlsProblem]);
    // native apps, key-based clients, PAR and JAR (client-kinds.ts, client-keys.ts)
    const keysProblem = input.jwks === undefined ? undefined : jwksProblem(input.jwks);
    if (keysProblem) throw new AdminProblem(400, 'Invalid client metadata', `jwks ${keysProblem}`, [{ field: 'jwks', message: keysProblem }]);
    const keysUriProblem = input.jwksUri === undefined ? undefined : jwksUriProblem(input.jwksUri, { allowLoopback: deps.config.jwksUri?.allowLoopback === true });
    if (keysUriProblem) throw new AdminProblem(400, 'Invalid client metadata', `jwks_uri ${keysUriProblem}`, [{ field: 'jwks_uri', message: keysUriProblem }]);
    const kindProblems = clientKindProblems(input);
    if (kindProblems.length) throw new AdminProblem(400, 'Invalid client metadata', kindProblems.map((p) => p.message).join('; '), kindProblems);
    const problems = registrationProblems({
      grantTypes: input.grantTypes, scopes: input.scopes, firstParty: input.firstParty, public: input.public, introspectFor: input.introspectFor,
      tokenExchangeAudiences: input.tokenExchangeAudiences, tokenExchangeImpersonation: input.tokenExchangeImpersonation,
    }, await resources.offer());
    if (problems.length) throw new AdminProblem(400, 'Invalid client metadata', problems.map((p) => p.message).join('; '), problems);
  }

  const invalidMetadata = (error: InvalidClientMetadataError) => new AdminProblem(400, 'Invalid client metadata', error.message, [{ field: fieldOf(error.message), message: error.message }]);

  async function findClient(clientId: string): Promise<ClientRecord> {
    const client = await clients.find(clientId);
    if (!client) throw notFound('client');
    return client;
  }

  /** An admin that disables or re-keys the client it is calling with locks itself out (as for delete). */
  const refuseSelf = (clientId: string, actor: string, what: string) => {
    if (clientId === actor) throw new AdminProblem(409, 'Conflict', `the client whose token makes this call cannot ${what} itself`);
  };

  return [
    {
      method: 'post', path: '/clients', tag, summary: 'Register a client; the answer holds its secret, once',
      body: createClientSchema,
      responses: { 201: { description: 'the client, with client_secret unless it is public', schema: clientSchema } },
      async handle(ctx, { body, actor }: AdminInput<CreateClientBody>) {
        if (body.public && body.token_endpoint_auth_method && body.token_endpoint_auth_method !== 'none') {
          throw new AdminProblem(400, 'Invalid client metadata', 'a public client authenticates with "none"', [{ field: 'token_endpoint_auth_method', message: 'must be none (or absent) for a public client' }]);
        }
        await checkRegistration(newClientOf(body));
        try {
          const { client, clientSecret } = await clients.create(newClientOf(body), validate);
          await audit.record({
            type: 'client.created', actor, subject: client.clientId, clientId: client.clientId,
            details: {
              name: client.name, grant_types: body.grant_types, scopes: body.scopes ?? [], first_party: client.firstParty, public: !clientSecret, introspect_for: client.introspectFor,
              ...(body.require_mfa ? { require_mfa: true } : {}),
              // which audiences the client may exchange a person's tokens for, and whether it acts unnamed, stand out
              ...(body.token_exchange_audiences?.length ? { token_exchange_audiences: body.token_exchange_audiences } : {}),
              ...(body.token_exchange_impersonation ? { token_exchange_impersonation: true } : {}),
              ...(body.web_origins ? { web_origins: body.web_origins } : {}),
              ...(body.web_origins?.includes(ANY_ORIGIN) ? { web_origins_any: true } : {}),
              ...(body.backchannel_logout_uri ? { backchannel_logout_uri: body.backchannel_logout_uri } : {}),
              ...(body.token_endpoint_auth_method ? { token_endpoint_auth_method: body.token_endpoint_auth_method } : {}),
              ...(body.tls_client_certificate_bound_access_tokens ? { tls_client_certificate_bound_access_tokens: true } : {}),
              ...(body.application_type === 'native' ? { application_type: 'native' } : {}),
              // which keys authenticate the client stands out (public keys: no secret in the log)
              ...(body.jwks ? { jwks_kids: body.jwks.keys.map((key) => key.kid ?? null) } : {}),
              ...(body.jwks_uri ? { jwks_uri: body.jwks_uri } : {}),
              // (named require_par: the audit log drops detail names that contain "authorization")
              ...(body.require_pushed_authorization_requests ? { require_par: true } : {}),
              ...(body.require_signed_request_object ? { require_signed_request_object: true } : {}),
              // widening to administration is explicit and stands out in the audit log
              ...(body.scopes?.includes(ADMIN_SCOPE) ? { grants_admin: true } : {}),
            },
          });
          reply(ctx, 201, { ...clientView(client), ...(clientSecret ? { client_secret: clientSecret } : {}) });
        } catch (error) {
          if (!(error instanceof InvalidClientMetadataError)) throw error;
          throw invalidMetadata(error);
        }
      },
    },
    {
      method: 'get', path: '/clients', tag, summary: 'List clients (oldest first); ?dynamic=true for those that registered themselves',
      query: clientListQuerySchema,
      responses: { 200: { description: 'a page of clients', schema: clientSchema, list: true } },
      async handle(ctx, { query }: AdminInput<unknown, { limit: number; offset: number; dynamic?: boolean }>) {
        reply(ctx, 200, page((await clients.list(query)).map(clientView), query));
      },
    },
    {
      method: 'get', path: '/clients/:clientId', tag, summary: 'One client',
      params,
      responses: { 200: { description: 'the client', schema: clientSchema }, 404: { description: 'no such client' } },
      async handle(ctx, { params: p }) {
        const client = await clients.find(p.clientId);
        if (!client) throw notFound('client');
        reply(ctx, 200, clientView(client));
      },
    },
    {
      method: 'patch', path: '/clients/:clientId', tag, summary: 'Change a client: absent fields keep their values, given lists replace them',
      params, body: updateClientSchema,
      responses: { 200: { description: 'the client', schema: clientSchema }, 404: { description: 'no such client' }, 409: { description: 'the change would lock the calling admin client out' } },
      async handle(ctx, { params: p, body, actor }: AdminInput<UpdateClientBody>) {
        const current = await findClient(p.clientId);
        const before = newClientOfRecord(current);
        const after: NewClient = {
          ...before,
          name: body.name ?? before.name,
          grantTypes: body.grant_types ?? before.grantTypes,
          redirectUris: body.redirect_uris ?? before.redirectUris,
          postLogoutRedirectUris: body.post_logout_redirect_uris ?? before.postLogoutRedirectUris,
          scopes: body.scopes ?? before.scopes,
          firstParty: body.first_party ?? before.firstParty,
          requireMfa: body.require_mfa ?? before.requireMfa,
          introspectFor: body.introspect_for ?? before.introspectFor,
          tokenExchangeAudiences: body.token_exchange_audiences ?? before.tokenExchangeAudiences,
          tokenExchangeImpersonation: body.token_exchange_impersonation ?? before.tokenExchangeImpersonation,
          // null: back to the default (web-origins.ts)
          webOrigins: body.web_origins === null ? undefined : (body.web_origins ?? before.webOrigins),
          // null removes the URI (no logout tokens from then on)
          backchannelLogoutUri: body.backchannel_logout_uri === null ? undefined : (body.backchannel_logout_uri ?? before.backchannelLogoutUri),
          backchannelLogoutSessionRequired: body.backchannel_logout_session_required ?? before.backchannelLogoutSessionRequired,
          tokenEndpointAuthMethod: body.token_endpoint_auth_method ?? before.tokenEndpointAuthMethod,
          // the subject is one choice: a given field replaces the stored one; leaving tls_client_auth drops it
          tlsClientAuth: tlsClientAuthSubjectOf(body) ?? before.tlsClientAuth,
          tlsClientCertificateBoundAccessTokens: body.tls_client_certificate_bound_access_tokens ?? before.tlsClientCertificateBoundAccessTokens,
          applicationType: body.application_type === undefined ? before.applicationType : (body.application_type === 'native' ? 'native' : undefined),
          // the keys are one choice: a given jwks replaces a stored jwks_uri and the other way round; null removes
          ...keysOf(body, before),
          requirePushedAuthorizationRequests: body.require_pushed_authorization_requests ?? before.requirePushedAuthorizationRequests,
          requireSignedRequestObject: body.require_signed_request_object ?? before.requireSignedRequestObject,
        };
        if (body.token_endpoint_auth_method !== undefined && (before.public || body.token_endpoint_auth_method === 'none')) {
          throw new AdminProblem(400, 'Invalid client metadata', 'whether a client is public is not changed: register a new client', [{ field: 'token_endpoint_auth_method', message: 'cannot change to or from none' }]);
        }
        if (after.tokenEndpointAuthMethod !== 'tls_client_auth' && body.token_endpoint_auth_method !== undefined && !tlsClientAuthSubjectOf(body)) after.tlsClientAuth = undefined;
        // leaving tls_client_auth for a secret method: a new secret, returned once
        const newSecret = !authenticatesWithSecret(before.tokenEndpointAuthMethod) && authenticatesWithSecret(after.tokenEndpointAuthMethod) && !after.public ? generateClientSecret() : undefined;
        if (newSecret) after.clientSecret = newSecret;
        if (p.clientId === actor && (!after.scopes?.includes(ADMIN_SCOPE) || !after.grantTypes.includes('client_credentials'))) {
          throw new AdminProblem(409, 'Conflict', 'the client whose token makes this call cannot take the admin scope or client_credentials away from itself');
        }
        await checkRegistration(after);
        let updated: ClientRecord | undefined;
        try {
          updated = await clients.update(p.clientId, after, validate);
        } catch (error) {
          if (!(error instanceof InvalidClientMetadataError)) throw error;
          throw invalidMetadata(error);
        }
        if (!updated) throw notFound('client');
        const fields = changedFields(before, after);
        const grantsAdmin = !before.scopes?.includes(ADMIN_SCOPE) && !!after.scopes?.includes(ADMIN_SCOPE);
        await audit.record({
          type: 'client.updated', actor, subject: p.clientId, clientId: p.clientId,
          details: {
            fields, ...(fields.includes('scopes') ? { scopes: after.scopes } : {}), ...(grantsAdmin ? { grants_admin: true } : {}),
            // either way it stands out: taking the requirement away weakens every sign-in to the client
            ...(fields.includes('require_mfa') ? { require_mfa: !!after.requireMfa } : {}),
            ...(fields.includes('token_exchange_audiences') ? { token_exchange_audiences: after.tokenExchangeAudiences ?? [] } : {}),
            ...(fields.includes('token_exchange_impersonation') ? { token_exchange_impersonation: !!after.tokenExchangeImpersonation } : {}),
            // which browser origins may read the client's tokens stands out too
            ...(fields.includes('web_origins') ? { web_origins: after.webOrigins ?? null } : {}),
            ...(fields.includes('web_origins') && after.webOrigins?.includes(ANY_ORIGIN) ? { web_origins_any: true } : {}),
            ...(fields.includes('token_endpoint_auth_method') ? { token_endpoint_auth_method: after.tokenEndpointAuthMethod } : {}),
            ...(fields.includes('tls_client_certificate_bound_access_tokens') ? { tls_client_certificate_bound_access_tokens: !!after.tlsClientCertificateBoundAccessTokens } : {}),
            ...(fields.includes('application_type') ? { application_type: after.applicationType ?? 'web' } : {}),
            ...(fields.includes('jwks') ? { jwks_kids: after.jwks ? after.jwks.keys.map((key) => key.kid ?? null) : null } : {}),
            ...(fields.includes('jwks_uri') ? { jwks_uri: after.jwksUri ?? null } : {}),
            // taking a requirement away weakens every request of the client: it stands out either way
            ...(fields.includes('require_pushed_authorization_requests') ? { require_par: !!after.requirePushedAuthorizationRequests } : {}),
            ...(fields.includes('require_signed_request_object') ? { require_signed_request_object: !!after.requireSignedRequestObject } : {}),
          },
        });
        reply(ctx, 200, { ...clientView(updated), ...(newSecret ? { client_secret: newSecret } : {}) });
      },
    },
    {
      method: 'post', path: '/clients/:clientId/rotate-secret', tag, summary: 'Replace the secret; the answer holds the new one, once',
      params, body: rotateSecretSchema,
      responses: {
        200: { description: 'the client with its new client_secret', schema: clientSchema },
        404: { description: 'no such client' },
        409: { description: 'a public or tls_client_auth client has no secret, the calling client cannot rotate itself, or the admin client is defined by the server configuration' },
      },
      async handle(ctx, { params: p, body, actor }: AdminInput<RotateSecretBody>) {
        refuseSelf(p.clientId, actor, 'rotate the secret of');
        const current = await findClient(p.clientId);
        // its secret is the configuration's (environment or KEYS_DIR): a rotation here would be undone at the next start
        if (current.bootstrapAdmin) throw new AdminProblem(409, 'Conflict', "the configured admin client's secret is set by the server configuration (TESSERA_ADMIN_CLIENT_SECRET or KEYS_DIR/admin-client.json)");
        if (current.metadata.token_endpoint_auth_method === 'tls_client_auth' || current.metadata.token_endpoint_auth_method === 'self_signed_tls_client_auth') throw new AdminProblem(409, 'Conflict', `a ${current.metadata.token_endpoint_auth_method} client authenticates with its certificate and has no secret`);
        if (current.metadata.token_endpoint_auth_method === 'private_key_jwt') throw new AdminProblem(409, 'Conflict', 'a private_key_jwt client authenticates with its keys and has no secret: replace its jwks or jwks_uri instead');
        const rotated = await clients.rotateSecret(p.clientId, { graceSeconds: body.grace_seconds });
        if (!rotated) throw notFound('client');
        if (rotated === 'public') throw new AdminProblem(409, 'Conflict', 'a public client has no secret');
        const grace = body.grace_seconds ?? 0;
        // Without grace a rotation answers a leaked secret: whatever was obtained
        // with it goes too — access tokens by the cut-off the rotation set, and
        // the grants (refresh tokens) here. With grace it is routine: nothing is revoked.
        const revoked = grace === 0 ? await deps.revocation.revokeGrantsOfClient(p.clientId) : 0;
        await audit.record({ type: 'client.secret_rotated', actor, subject: p.clientId, clientId: p.clientId, details: { grace_seconds: grace, revoked_grants: revoked } });
        reply(ctx, 200, { ...clientView(rotated.client), client_secret: rotated.clientSecret, revoked_grants: revoked });
      },
    },
    {
      method: 'post', path: '/clients/:clientId/disable', tag, summary: 'Disable a client: refused everywhere, its grants revoked and its access tokens inactive',
      params, body: emptyBodySchema,
      responses: { 200: { description: 'the client and the number of grants revoked' }, 404: { description: 'no such client' }, 409: { description: 'the calling client cannot disable itself' } },
      async handle(ctx, { params: p, actor }) {
        refuseSelf(p.clientId, actor, 'disable');
        // disabled first: no new grant can be issued to it while its grants are revoked
        const client = await clients.setDisabled(p.clientId, true);
        if (!client) throw notFound('client');
        const revoked = await deps.revocation.revokeGrantsOfClient(p.clientId);
        await audit.record({ type: 'client.disabled', actor, subject: p.clientId, clientId: p.clientId, details: { revoked_grants: revoked } });
        reply(ctx, 200, { client: clientView(client), revoked_grants: revoked });
      },
    },
    {
      method: 'post', path: '/clients/:clientId/enable', tag, summary: 'Enable a disabled client (its earlier tokens stay inactive)',
      params, body: emptyBodySchema,
      responses: { 200: { description: 'the client', schema: clientSchema }, 404: { description: 'no such client' } },
      async handle(ctx, { params: p, actor }) {
        const client = await clients.setDisabled(p.clientId, false);
        if (!client) throw notFound('client');
        await audit.record({ type: 'client.enabled', actor, subject: p.clientId, clientId: p.clientId });
        reply(ctx, 200, clientView(client));
      },
    },
    {
      method: 'delete', path: '/clients/:clientId', tag, summary: "Delete a client and revoke all of its grants",
      params,
      responses: { 200: { description: 'the number of grants revoked' }, 404: { description: 'no such client' }, 409: { description: 'the client making the call cannot delete itself' } },
      async handle(ctx, { params: p, actor }) {
        // an admin that deletes the client it is calling with locks itself out
        if (p.clientId === actor) throw new AdminProblem(409, 'Conflict', 'the client whose token makes this call cannot delete itself');
        // Looked up rather than trusting delete()'s answer, which is wrong on
        // PGlite (knex-pglite returns a result object, not a row count).
        if (!await clients.find(p.clientId)) throw notFound('client');
        // deleted first: no new grant can be issued to it while its grants are revoked
        await clients.delete(p.clientId);
        const revoked = await deps.revocation.revokeGrantsOfClient(p.clientId);
        await audit.record({ type: 'client.deleted', actor, subject: p.clientId, clientId: p.clientId, details: { revoked_grants: revoked } });
        reply(ctx, 200, { client_id: p.clientId, deleted: true, revoked_grants: revoked });
      },
    },
  ];
}
