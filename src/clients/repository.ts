import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { digestClientSecret, generateClientSecret } from './secrets.ts';
import { OIDC_SCOPES } from './oidc-scopes.ts';
import { createTtlCache } from './ttl-cache.ts';

export interface NewClient {
  name: string;
  grantTypes: string[];
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  /** the client's allow-list: OIDC scopes and resource scopes */
  scopes?: string[];
  public?: boolean;
  firstParty?: boolean;
  tokenEndpointAuthMethod?: string;
  /** resource identifiers whose tokens this client may introspect */
  introspectFor?: string[];
  /** fixed id and secret, for the built-in admin client only */
  clientId?: string;
  clientSecret?: string;
}

export interface ClientRecord {
  readonly clientId: string;
  readonly name: string;
  readonly firstParty: boolean;
  readonly introspectFor: string[];
  /** oidc-provider client metadata; client_secret holds the digest */
  readonly metadata: Record<string, unknown>;
  readonly createdAt: Date;
}

interface ClientRow {
  client_id: string; name: string; metadata: Record<string, unknown> | string; secret_digest: string | null;
  first_party: boolean; introspect_for: string[] | string; created_at: Date | string;
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
  };
}

/** What the provider sees: metadata plus Tessera's own properties. */
export function providerMetadataOf(record: ClientRecord, secretDigest: string | null): Record<string, unknown> {
  return {
    ...record.metadata,
    ...(secretDigest ? { client_secret: secretDigest } : {}),
    first_party: record.firstParty,
    introspect_for: record.introspectFor,
  };
}

/** Turns the CLI / admin API shape into oidc-provider client metadata. */
export function clientMetadataOf(input: NewClient, clientId: string): Record<string, unknown> {
  const grantTypes = input.grantTypes;
  const usesAuthorizationEndpoint = grantTypes.includes('authorization_code');
  const oidcScopes = input.scopes?.filter((scope) => OIDC_SCOPES.includes(scope));
  return {
    client_id: clientId,
    client_name: input.name,
    grant_types: grantTypes,
    response_types: usesAuthorizationEndpoint ? ['code'] : [],
    redirect_uris: input.redirectUris ?? [],
    post_logout_redirect_uris: input.postLogoutRedirectUris ?? [],
    token_endpoint_auth_method: input.public ? 'none' : (input.tokenEndpointAuthMethod ?? 'client_secret_basic'),
    // oidc-provider checks `scope` against its OIDC scopes; the full allow-list
    // (resource scopes too) is Tessera's own `allowed_scopes`, always written:
    // absent means nothing, and a stored empty list says so explicitly.
    allowed_scopes: input.scopes ?? [],
    ...(oidcScopes?.length ? { scope: oidcScopes.join(' ') } : {}),
  };
}

export type ClientRepository = ReturnType<typeof createClientRepository>;

export function createClientRepository(knex: Knex, options: { cacheTtlMs?: number } = {}) {
  const table = () => knex<ClientRow>('clients');
  const providerMetadataCache = createTtlCache<Record<string, unknown>>({ ttlMs: options.cacheTtlMs ?? 5000, maxEntries: 10_000 });

  return {
    /**
     * Stores a client; returns its record and, for confidential clients, the
     * secret in clear — the only time it exists outside the caller.
     * `validate` checks the metadata (the provider's own client validation).
     */
    async create(input: NewClient, validate: (metadata: Record<string, unknown>) => Promise<void>) {
      const clientId = input.clientId ?? randomBytes(16).toString('base64url');
      const metadata = clientMetadataOf(input, clientId);
      const secret = metadata.token_endpoint_auth_method === 'none' ? undefined : (input.clientSecret ?? generateClientSecret());
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
      }).returning('*');
      return { client: toRecord(row as ClientRow), clientSecret: secret };
    },

    async find(clientId: string): Promise<ClientRecord | undefined> {
      const row = await table().where({ client_id: clientId }).first();
      return row && toRecord(row);
    },

    /** The metadata oidc-provider needs, secret digest included. Read on every request: cached briefly. */
    findProviderMetadata(clientId: string): Promise<Record<string, unknown> | undefined> {
      return providerMetadataCache.get(clientId, async () => {
        const row = await table().where({ client_id: clientId }).first();
        return row && providerMetadataOf(toRecord(row), row.secret_digest);
      });
    },

    async list(options: { limit: number; offset: number }): Promise<ClientRecord[]> {
      const rows = await table().orderBy('created_at').limit(options.limit).offset(options.offset);
      return rows.map(toRecord);
    },

    async delete(clientId: string): Promise<boolean> {
      providerMetadataCache.invalidate(clientId);
      // `returning` rather than the count: knex-pglite does not report row counts
      return (await table().where({ client_id: clientId }).delete().returning('client_id')).length > 0;
    },
  };
}
