import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { digestClientSecret, generateClientSecret } from './secrets.ts';
import { OIDC_SCOPES } from './oidc-scopes.ts';
import { createClientCache } from './client-cache.ts';
import { nextGeneration, singleProcessChanges, type ClientChangeLog } from './client-changes.ts';
import { storableId } from './storable-id.ts';
import type { ApplicationType } from './client-kinds.ts';

export interface NewClient {
  name: string;
  grantTypes: string[];
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  /** the client's allow-list: OIDC scopes and resource scopes */
  scopes?: string[];
  public?: boolean;
  firstParty?: boolean;
  /** every sign-in to this client must prove a second factor (absent: a password is enough) */
  requireMfa?: boolean;
  tokenEndpointAuthMethod?: string;
  /** resource identifiers whose tokens this client may introspect */
  introspectFor?: string[];
  /** resource identifiers this client may exchange tokens for (RFC 8693 token exchange); absent: none */
  tokenExchangeAudiences?: string[];
  /** exchanged tokens carry no `act` naming this client (impersonation); absent: delegation only */
  tokenExchangeImpersonation?: boolean;
  /**
   * origins whose browser code may call the token, userinfo, revocation and
   * introspection endpoints (src/provider/web-origins.ts); absent: those of the
   * redirect URIs for a public client, none for a confidential one
   */
  webOrigins?: string[];
  /** where logout tokens go when a session of this client ends (absent: none is sent) */
  backchannelLogoutUri?: string;
  /** the logout token names the session (sid); default true when a backchannelLogoutUri is given */
  backchannelLogoutSessionRequired?: boolean;
  /**
   * tls_client_auth (RFC 8705 §2.1): the certificate subject the client
   * authenticates with, exactly one of these. Written only with that method.
   */
  tlsClientAuth?: TlsClientAuthSubject;
  /** access tokens bound to the client's certificate (cnf.x5t#S256, RFC 8705 §3); absent: not bound */
  tlsClientCertificateBoundAccessTokens?: boolean;
  /** 'native': an app on a device (RFC 8252, client-kinds.ts); absent: web */
  applicationType?: ApplicationType;
  /** the client's public keys, as a JWK Set (private_key_jwt, signed request objects); absent: none */
  jwks?: { keys: Array<Record<string, unknown>> };
  /** where the provider fetches the client's public keys (instead of jwks); absent: nowhere */
  jwksUri?: string;
  /** every authorization request must come through PAR (RFC 9126 §6); absent: not required */
  requirePushedAuthorizationRequests?: boolean;
  /** every authorization request must be a signed request object (RFC 9101 §10.5); absent: not required */
  requireSignedRequestObject?: boolean;
  /** fixed id and secret, for the built-in admin client only */
  clientId?: string;
  clientSecret?: string;
  /** the admin client defined by the server's configuration (src/admin/bootstrap.ts) */
  bootstrapAdmin?: boolean;
  /**
   * a client that registered itself (RFC 7591, src/registration): who let it
   * (an initial access token's id, or `anonymous`) and the digest of its
   * registration access token (RFC 7592). Written on creation; on update
   * only the token digest, when given (a new token).
   */
  dynamicRegistration?: { registeredBy: string; registrationAccessTokenDigest: string };
}

/** The registered certificate subject of a tls_client_auth client, by its RFC 8705 metadata name. */
export interface TlsClientAuthSubject {
  tls_client_auth_subject_dn?: string;
  tls_client_auth_san_dns?: string;
  tls_client_auth_san_uri?: string;
  tls_client_auth_san_ip?: string;
  tls_client_auth_san_email?: string;
}

export const TLS_CLIENT_AUTH_SUBJECT_FIELDS = ['tls_client_auth_subject_dn', 'tls_client_auth_san_dns', 'tls_client_auth_san_uri', 'tls_client_auth_san_ip', 'tls_client_auth_san_email'] as const;

/** Methods that authenticate without a secret: such a client is given none (absent means nothing: no unused credential). */
const WITHOUT_SECRET = new Set(['none', 'tls_client_auth', 'private_key_jwt', 'self_signed_tls_client_auth']);
export const authenticatesWithSecret = (method: unknown) => !WITHOUT_SECRET.has(String(method));

function tlsClientAuthSubjectOf(m: Record<string, unknown>): TlsClientAuthSubject | undefined {
  const entries = TLS_CLIENT_AUTH_SUBJECT_FIELDS.filter((field) => typeof m[field] === 'string').map((field) => [field, m[field] as string]);
  return entries.length ? Object.fromEntries(entries) : undefined;
}

export interface ClientRecord {
  readonly clientId: string;
  readonly name: string;
  readonly firstParty: boolean;
  readonly introspectFor: string[];
  /** oidc-provider client metadata; client_secret holds the digest */
  readonly metadata: Record<string, unknown>;
  readonly createdAt: Date;
  /** its creation, or the cut-off of its last new secret (see update): access tokens of earlier seconds are inactive */
  readonly credentialsSetAt: Date;
  readonly bootstrapAdmin: boolean;
  /** refused everywhere while true (setDisabled) */
  readonly disabled: boolean;
  /** until when the secret before the last rotation still authenticates (rotateSecret with a grace period) */
  readonly previousSecretExpiresAt: Date | null;
  /** it registered itself (RFC 7591, src/registration), not an admin */
  readonly dynamicallyRegistered: boolean;
  /** for a dynamically registered client: the initial access token's id, or `anonymous` (open registration) */
  readonly registeredBy: string | null;
  /** the SHA-256 digest of its registration access token (RFC 7592); null for a client an admin registered */
  readonly registrationAccessTokenDigest: string | null;
}

interface ClientRow {
  client_id: string; name: string; metadata: Record<string, unknown> | string; secret_digest: string | null;
  first_party: boolean; introspect_for: string[] | string; created_at: Date | string;
  generation: string | number; credentials_set_at: Date | string; bootstrap_admin: boolean;
  disabled: boolean; previous_secret_digest: string | null; previous_secret_expires_at: Date | string | null;
  dynamically_registered: boolean; registered_by: string | null; registration_access_token_digest: string | null;
}

const parseJson = <T>(value: T | string): T => (typeof value === 'string' ? JSON.parse(value) : value);

function toRecord(row: ClientRow): ClientRecord {
  return {
    clientId: row.client_id,
    name: row.name,
    firstParty: row.first_party,
    introspectFor: parseJson(row.introspect_for),
    metadata: parseJson(row.metadata),
    createdAt: new Date(row.created_at),
    credentialsSetAt: new Date(row.credentials_set_at),
    bootstrapAdmin: row.bootstrap_admin,
    disabled: !!row.disabled,
    previousSecretExpiresAt: row.previous_secret_expires_at ? new Date(row.previous_secret_expires_at) : null,
    dynamicallyRegistered: !!row.dynamically_registered,
    registeredBy: row.registered_by ?? null,
    registrationAccessTokenDigest: row.registration_access_token_digest ?? null,
  };
}

/** The record as the input update() takes: the starting point of a partial change (PATCH). */
export function newClientOfRecord(record: ClientRecord): NewClient {
  const m = record.metadata as Record<string, unknown>;
  const strings = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
  return {
    name: record.name,
    grantTypes: strings(m.grant_types),
    redirectUris: strings(m.redirect_uris),
    postLogoutRedirectUris: strings(m.post_logout_redirect_uris),
    scopes: strings(m.allowed_scopes),
    public: m.token_endpoint_auth_method === 'none',
    firstParty: record.firstParty,
    requireMfa: m.require_mfa === true,
    tokenEndpointAuthMethod: typeof m.token_endpoint_auth_method === 'string' ? m.token_endpoint_auth_method : undefined,
    introspectFor: record.introspectFor,
    tokenExchangeAudiences: Array.isArray(m.token_exchange_audiences) ? strings(m.token_exchange_audiences) : undefined,
    tokenExchangeImpersonation: m.token_exchange_impersonation === true ? true : undefined,
    webOrigins: Array.isArray(m.web_origins) ? strings(m.web_origins) : undefined,
    backchannelLogoutUri: typeof m.backchannel_logout_uri === 'string' ? m.backchannel_logout_uri : undefined,
    backchannelLogoutSessionRequired: typeof m.backchannel_logout_session_required === 'boolean' ? m.backchannel_logout_session_required : undefined,
    tlsClientAuth: tlsClientAuthSubjectOf(m),
    tlsClientCertificateBoundAccessTokens: m.tls_client_certificate_bound_access_tokens === true ? true : undefined,
    applicationType: m.application_type === 'native' ? 'native' : undefined,
    jwks: typeof m.jwks === 'object' && m.jwks !== null ? m.jwks as NewClient['jwks'] : undefined,
    jwksUri: typeof m.jwks_uri === 'string' ? m.jwks_uri : undefined,
    requirePushedAuthorizationRequests: m.require_pushed_authorization_requests === true ? true : undefined,
    requireSignedRequestObject: m.require_signed_request_object === true ? true : undefined,
    bootstrapAdmin: record.bootstrapAdmin,
  };
}

/** The start of the next second: the cut-off for every access token issued until now (see update). */
const nextSecond = () => new Date((Math.floor(Date.now() / 1000) + 1) * 1000);

/** Waits until `cutOff` has begun, so that every token issued afterwards has a later `iat`. */
async function waitUntil(cutOff: Date | undefined): Promise<void> {
  const wait = cutOff ? cutOff.getTime() - Date.now() : 0;
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

/**
 * Access tokens issued before this (epoch seconds, as a token's `iat`) are
 * inactive: those of the client's earlier secret, or of an earlier client
 * that had the same id. A new client's first tokens may share the second of
 * its creation, so that second counts as after it.
 */
export const tokensNotBeforeOf = (record: Pick<ClientRecord, 'credentialsSetAt'>) => Math.floor(record.credentialsSetAt.getTime() / 1000);

/**
 * What the provider sees: metadata plus Tessera's own properties. The secret
 * before the last rotation is there only while its grace period lasts
 * (compareSecretsByDigest checks its expiry on every comparison).
 */
export function providerMetadataOf(record: ClientRecord, secretDigest: string | null, previousSecretDigest: string | null = null): Record<string, unknown> {
  const previousValid = secretDigest && previousSecretDigest && record.previousSecretExpiresAt && record.previousSecretExpiresAt.getTime() > Date.now();
  return {
    ...record.metadata,
    ...(secretDigest ? { client_secret: secretDigest } : {}),
    ...(previousValid ? { previous_client_secret: previousSecretDigest, previous_client_secret_expires_at: Math.floor(record.previousSecretExpiresAt!.getTime() / 1000) } : {}),
    first_party: record.firstParty,
    introspect_for: record.introspectFor,
    tokens_not_before: tokensNotBeforeOf(record),
    // resource servers without the dynamic_clients flag refuse such a client (src/provider/resource-servers.ts)
    ...(record.dynamicallyRegistered ? { dynamically_registered: true } : {}),
  };
}

/** Turns the CLI / admin API shape into oidc-provider client metadata. */
export function clientMetadataOf(input: NewClient, clientId: string): Record<string, unknown> {
  const grantTypes = input.grantTypes;
  const usesAuthorizationEndpoint = grantTypes.includes('authorization_code');
  const oidcScopes = input.scopes?.filter((scope) => OIDC_SCOPES.includes(scope));
  const method = input.public ? 'none' : (input.tokenEndpointAuthMethod ?? 'client_secret_basic');
  return {
    client_id: clientId,
    client_name: input.name,
    grant_types: grantTypes,
    response_types: usesAuthorizationEndpoint ? ['code'] : [],
    redirect_uris: input.redirectUris ?? [],
    post_logout_redirect_uris: input.postLogoutRedirectUris ?? [],
    token_endpoint_auth_method: method,
    // oidc-provider checks `scope` against its OIDC scopes; the full allow-list
    // (resource scopes too) is Tessera's own `allowed_scopes`, always written:
    // absent means nothing, and a stored empty list says so explicitly.
    allowed_scopes: input.scopes ?? [],
    ...(oidcScopes?.length ? { scope: oidcScopes.join(' ') } : {}),
    // written only when set: absent means a password is enough, as for every client before the setting
    ...(input.requireMfa ? { require_mfa: true } : {}),
    // written only when set: absent means no exchange at all, and delegation only (src/grants/token-exchange.ts)
    ...(input.tokenExchangeAudiences?.length ? { token_exchange_audiences: input.tokenExchangeAudiences } : {}),
    ...(input.tokenExchangeImpersonation ? { token_exchange_impersonation: true } : {}),
    // written only when given: absent is the default of web-origins.ts, [] is "no origin"
    ...(input.webOrigins !== undefined ? { web_origins: input.webOrigins } : {}),
    ...(input.backchannelLogoutUri ? {
      backchannel_logout_uri: input.backchannelLogoutUri,
      backchannel_logout_session_required: input.backchannelLogoutSessionRequired ?? true,
    } : {}),
    // the subject only with its method (the provider checks there is exactly one); the binding only when asked for
    ...(method === 'tls_client_auth' ? tlsClientAuthSubjectOf({ ...input.tlsClientAuth }) : {}),
    ...(input.tlsClientCertificateBoundAccessTokens ? { tls_client_certificate_bound_access_tokens: true } : {}),
    // each written only when set: absent is the provider's default (web; no keys; nothing required)
    ...(input.applicationType === 'native' ? { application_type: 'native' } : {}),
    ...(input.jwks ? { jwks: input.jwks } : {}),
    ...(input.jwksUri ? { jwks_uri: input.jwksUri } : {}),
    ...(input.requirePushedAuthorizationRequests ? { require_pushed_authorization_requests: true } : {}),
    ...(input.requireSignedRequestObject ? { require_signed_request_object: true } : {}),
  };
}

export type ClientRepository = ReturnType<typeof createClientRepository>;

/**
 * `changes`: how other processes' changes are learnt (client-changes.ts);
 * by default none can happen (one process owns the database).
 */
export function createClientRepository(knex: Knex, options: { changes?: ClientChangeLog } = {}) {
  const table = () => knex<ClientRow>('clients');
  const changes = options.changes ?? singleProcessChanges;
  // A disabled client is cached as null: known, current, and absent to the
  // provider (refused at every endpoint, its tokens inactive), at every
  // instance as soon as the change returns (the change protocol below).
  const providerMetadataCache = createClientCache<Record<string, unknown> | null>({
    changes,
    maxEntries: 10_000,
    load: async (clientId) => {
      const row = await table().where({ client_id: clientId }).first();
      if (!row) return undefined;
      const record = toRecord(row);
      return { value: record.disabled ? null : providerMetadataOf(record, row.secret_digest, row.previous_secret_digest), generation: Number(row.generation) };
    },
  });

  /**
   * Every change of a client row goes through here: in one transaction the
   * row is locked, the generation the change will store is announced to the
   * other instances, and `write` runs; this process's copy is dropped after
   * the commit. Undefined when there is no such client.
   */
  async function change<T>(clientId: string, write: (trx: Knex.Transaction, generation: number) => Promise<T>): Promise<T | undefined> {
    try {
      return await knex.transaction(async (trx) => {
        const row = await trx<ClientRow>('clients').where({ client_id: clientId }).forUpdate().first('generation');
        if (!row) return undefined;
        const generation = nextGeneration(Number(row.generation));
        await changes.announce(clientId, generation);
        return write(trx, generation);
      });
    } finally {
      providerMetadataCache.invalidate(clientId);
    }
  }

  return {
    /**
     * Stores a client; returns its record and, for confidential clients, the
     * secret in clear — the only time it exists outside the caller.
     * `validate` checks the metadata (the provider's own client validation).
     */
    async create(input: NewClient, validate: (metadata: Record<string, unknown>) => Promise<void>) {
      const clientId = input.clientId ?? randomBytes(16).toString('base64url');
      const metadata = clientMetadataOf(input, clientId);
      const secret = !authenticatesWithSecret(metadata.token_endpoint_auth_method) ? undefined : (input.clientSecret ?? generateClientSecret());
      const secretDigest = secret ? digestClientSecret(secret) : null;
      const introspectFor = input.introspectFor ?? [];
      await validate({ ...metadata, ...(secretDigest ? { client_secret: secretDigest } : {}), first_party: !!input.firstParty, introspect_for: introspectFor });
      const [row] = await table().insert({
        client_id: clientId,
        name: input.name,
        metadata: JSON.stringify(metadata) as unknown as Record<string, unknown>,
        secret_digest: secretDigest,
        first_party: !!input.firstParty,
        introspect_for: JSON.stringify(introspectFor) as unknown as string[],
        // above any generation announced for an earlier client of the same id
        generation: nextGeneration(0),
        credentials_set_at: new Date(),
        bootstrap_admin: !!input.bootstrapAdmin,
        dynamically_registered: !!input.dynamicRegistration,
        registered_by: input.dynamicRegistration?.registeredBy ?? null,
        registration_access_token_digest: input.dynamicRegistration?.registrationAccessTokenDigest ?? null,
      }).returning('*');
      return { client: toRecord(row as ClientRow), clientSecret: secret };
    },

    /**
     * Rewrites a client's definition from `input` (its id stays). A new
     * secret (input.clientSecret whose digest differs) replaces the old one.
     * Once this returns, every instance refuses the old definition and secret,
     * and every access token issued with the old secret is inactive.
     * Undefined when there is no such client.
     *
     * Tokens carry their issue time in whole seconds (`iat`), so the cut-off
     * is the start of the second after the commit, and a new secret returns
     * only once that second has begun (up to a second later): tokens of the
     * old secret all have an earlier `iat`, and every token issued after this
     * returns a later one. (Instances' clocks must agree, as for `exp`.)
     */
    async update(clientId: string, input: NewClient, validate: (metadata: Record<string, unknown>) => Promise<void>): Promise<ClientRecord | undefined> {
      const metadata = clientMetadataOf(input, clientId);
      const introspectFor = input.introspectFor ?? [];
      let tokensNotBefore: Date | undefined;
      const updated = await change(clientId, async (trx, generation) => {
        const current = await trx<ClientRow>('clients').where({ client_id: clientId }).first('secret_digest');
        const confidential = authenticatesWithSecret(metadata.token_endpoint_auth_method);
        // no secret given: a confidential client keeps the one it has
        const secretDigest = !confidential ? null : input.clientSecret !== undefined ? digestClientSecret(input.clientSecret) : (current?.secret_digest ?? null);
        await validate({ ...metadata, ...(secretDigest ? { client_secret: secretDigest } : {}), first_party: !!input.firstParty, introspect_for: introspectFor });
        if ((current?.secret_digest ?? null) !== secretDigest) tokensNotBefore = nextSecond();
        const [row] = await trx<ClientRow>('clients').where({ client_id: clientId }).update({
          name: input.name,
          metadata: JSON.stringify(metadata) as unknown as Record<string, unknown>,
          secret_digest: secretDigest,
          first_party: !!input.firstParty,
          introspect_for: JSON.stringify(introspectFor) as unknown as string[],
          generation,
          bootstrap_admin: !!input.bootstrapAdmin,
          ...(tokensNotBefore ? { credentials_set_at: tokensNotBefore } : {}),
          // a new registration access token (RFC 7592 update): the previous one stops working with this commit
          ...(input.dynamicRegistration ? { registration_access_token_digest: input.dynamicRegistration.registrationAccessTokenDigest } : {}),
          updated_at: new Date(),
        } as Partial<ClientRow>).returning('*');
        return toRecord(row as ClientRow);
      });
      if (updated) await waitUntil(tokensNotBefore);
      return updated;
    },

    /**
     * A new secret, returned in clear once. Without a grace period the old
     * secret stops authenticating and every access token issued so far is
     * inactive once this returns, at every instance (as update does). With
     * one, the old secret authenticates until `graceSeconds` from now and the
     * tokens issued so far are left to expire on their own: the grace period
     * is for a planned handover, not for a leaked secret. Undefined when there
     * is no such client; 'public' when it has no secret to rotate.
     */
    async rotateSecret(clientId: string, options: { graceSeconds?: number } = {}): Promise<{ client: ClientRecord; clientSecret: string } | 'public' | undefined> {
      const clientSecret = generateClientSecret();
      const grace = options.graceSeconds ?? 0;
      let tokensNotBefore: Date | undefined;
      const rotated = await change(clientId, async (trx, generation) => {
        const current = await trx<ClientRow>('clients').where({ client_id: clientId }).first('secret_digest');
        if (!current?.secret_digest) return 'public' as const;
        if (grace <= 0) tokensNotBefore = nextSecond();
        const [row] = await trx<ClientRow>('clients').where({ client_id: clientId }).update({
          secret_digest: digestClientSecret(clientSecret),
          previous_secret_digest: grace > 0 ? current.secret_digest : null,
          previous_secret_expires_at: grace > 0 ? new Date(Date.now() + grace * 1000) : null,
          generation,
          ...(tokensNotBefore ? { credentials_set_at: tokensNotBefore } : {}),
          updated_at: new Date(),
        } as Partial<ClientRow>).returning('*');
        return { client: toRecord(row as ClientRow), clientSecret };
      });
      if (rotated && rotated !== 'public') await waitUntil(tokensNotBefore);
      return rotated;
    },

    /**
     * Disabling: every instance refuses the client once this returns, and its
     * access tokens issued so far stay inactive even after it is enabled again
     * (the cut-off moves, as for a new secret). The secret is kept. Undefined
     * when there is no such client.
     */
    async setDisabled(clientId: string, disabled: boolean): Promise<ClientRecord | undefined> {
      const tokensNotBefore = disabled ? nextSecond() : undefined;
      const updated = await change(clientId, async (trx, generation) => {
        const [row] = await trx<ClientRow>('clients').where({ client_id: clientId }).update({
          disabled,
          generation,
          ...(tokensNotBefore ? { credentials_set_at: tokensNotBefore } : {}),
          updated_at: new Date(),
        } as Partial<ClientRow>).returning('*');
        return toRecord(row as ClientRow);
      });
      if (updated) await waitUntil(tokensNotBefore);
      return updated;
    },

    /**
     * Every access token of the client issued until now is inactive once this
     * returns, at every instance — client_credentials JWTs included, which
     * belong to no grant — while its secret stays as it is. False when there
     * is no such client.
     */
    async cutOffTokens(clientId: string): Promise<boolean> {
      const tokensNotBefore = nextSecond();
      const updated = await change(clientId, async (trx, generation) => {
        await trx<ClientRow>('clients').where({ client_id: clientId }).update({ generation, credentials_set_at: tokensNotBefore, updated_at: new Date() } as Partial<ClientRow>);
        return true;
      });
      if (updated) await waitUntil(tokensNotBefore);
      return updated ?? false;
    },

    async find(clientId: string): Promise<ClientRecord | undefined> {
      if (!storableId(clientId)) return undefined;
      const row = await table().where({ client_id: clientId }).first();
      return row && toRecord(row);
    },

    /**
     * The metadata oidc-provider needs, secret digest included. Read on every
     * request: cached, and checked against the latest change before each use.
     */
    async findProviderMetadata(clientId: string): Promise<Record<string, unknown> | undefined> {
      if (!storableId(clientId)) return undefined;
      return (await providerMetadataCache.get(clientId)) ?? undefined;
    },

    /** The admin clients the server's configuration defined (normally one). */
    async bootstrapAdmins(): Promise<ClientRecord[]> {
      return (await table().where({ bootstrap_admin: true })).map(toRecord);
    },

    /** `dynamic`: only clients that registered themselves (true) or only those an admin registered (false); absent: all */
    async list(options: { limit: number; offset: number; dynamic?: boolean }): Promise<ClientRecord[]> {
      const query = table().orderBy('created_at').limit(options.limit).offset(options.offset);
      if (options.dynamic !== undefined) query.where({ dynamically_registered: options.dynamic });
      const rows = await query;
      return rows.map(toRecord);
    },

    /** How many clients registered themselves (the cap of dynamic registration, src/registration). */
    async countDynamic(): Promise<number> {
      const [row] = await table().where({ dynamically_registered: true }).count<{ count: string | number }[]>({ count: '*' });
      return Number(row?.count ?? 0);
    },

    /** Every instance refuses the client once this returns. */
    async delete(clientId: string): Promise<boolean> {
      // `returning` rather than the count: knex-pglite does not report row counts
      const deleted = await change(clientId, async (trx) => (await trx('clients').where({ client_id: clientId }).delete().returning('client_id')).length > 0);
      return deleted ?? false;
    },
  };
}
