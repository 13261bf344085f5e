import type { Knex } from 'knex';
import { createTtlCache } from './ttl-cache.ts';
import { storableId } from './storable-id.ts';
import type { Offer } from './client-policy.ts';

/** The longest access-token lifetime a resource server may ask for (seconds): bounds key retention too. */
export const MAX_RESOURCE_TTL = 86400;

export interface ResourceServer {
  readonly identifier: string;
  readonly name: string;
  readonly scopes: string[];
  readonly tokenFormat: 'jwt' | 'opaque';
  readonly accessTokenTtl: number;
  /** clients nobody registered by hand (dynamic registration, client ID metadata documents) may receive its scopes and audience; absent: they may not */
  readonly dynamicClients: boolean;
  readonly createdAt: Date;
}

export interface NewResourceServer {
  identifier: string;
  name?: string;
  scopes: string[];
  tokenFormat?: 'jwt' | 'opaque';
  accessTokenTtl?: number;
  dynamicClients?: boolean;
}

export class ResourceServerExistsError extends Error {
  constructor() { super('a resource server with this identifier exists'); }
}

interface ResourceServerRow {
  identifier: string; name: string; scopes: string[] | string; token_format: 'jwt' | 'opaque';
  access_token_ttl: number; dynamic_clients: boolean; created_at: Date | string;
}

function toResourceServer(row: ResourceServerRow): ResourceServer {
  return {
    identifier: row.identifier,
    name: row.name,
    scopes: typeof row.scopes === 'string' ? JSON.parse(row.scopes) : row.scopes,
    tokenFormat: row.token_format,
    accessTokenTtl: row.access_token_ttl,
    dynamicClients: !!row.dynamic_clients,
    createdAt: new Date(row.created_at),
  };
}

export type ResourceServerRepository = ReturnType<typeof createResourceServerRepository>;

export function createResourceServerRepository(knex: Knex, defaults: { accessTokenTtl: number; cacheTtlMs?: number }) {
  const table = () => knex<ResourceServerRow>('resource_servers');
  // read on every token request for an API: cached briefly
  const cache = createTtlCache<ResourceServer>({ ttlMs: defaults.cacheTtlMs ?? 5000, maxEntries: 10_000 });
  return {
    async create(input: NewResourceServer): Promise<ResourceServer> {
      try {
        const [row] = await table().insert({
          identifier: input.identifier,
          name: input.name ?? input.identifier,
          scopes: JSON.stringify(input.scopes) as unknown as string[],
          token_format: input.tokenFormat ?? 'jwt',
          access_token_ttl: input.accessTokenTtl ?? defaults.accessTokenTtl,
          dynamic_clients: input.dynamicClients === true,
        }).returning('*');
        return toResourceServer(row as ResourceServerRow);
      } catch (error) {
        if ((error as { code?: string }).code === '23505') throw new ResourceServerExistsError();
        throw error;
      }
    },
    find(identifier: string): Promise<ResourceServer | undefined> {
      // an identifier Postgres could not hold (a NUL) names no resource server rather than failing the query
      if (!storableId(identifier)) return Promise.resolve(undefined);
      return cache.get(identifier, async () => {
        const row = await table().where({ identifier }).first();
        return row && toResourceServer(row);
      });
    },
    async list(options: { limit: number; offset: number }): Promise<ResourceServer[]> {
      const rows = await table().orderBy('identifier').limit(options.limit).offset(options.offset);
      return rows.map(toResourceServer);
    },
    /** Every resource identifier and every scope some resource declares: what a client registration is judged against. */
    async offer(): Promise<Offer> {
      const rows = (await table().select('identifier', 'scopes', 'dynamic_clients')).map((row) => toResourceServer(row as ResourceServerRow));
      const scopesOf = (servers: ResourceServer[]) => new Set(servers.flatMap((server) => server.scopes));
      const forDynamicClients = rows.filter((server) => server.dynamicClients);
      return {
        resources: new Set(rows.map((server) => server.identifier)),
        resourceScopes: scopesOf(rows),
        dynamicClientResources: new Set(forDynamicClients.map((server) => server.identifier)),
        dynamicClientScopes: scopesOf(forDynamicClients),
      };
    },
    /**
     * Changes name, scopes, token format, lifetime or dynamic clients (absent: unchanged).
     * Other instances see it when their short cache of it expires (cacheTtlMs).
     * Undefined when there is no such resource server.
     */
    async update(identifier: string, change: Partial<Omit<NewResourceServer, 'identifier'>>): Promise<ResourceServer | undefined> {
      try {
        const [row] = await table().where({ identifier }).update({
          ...(change.name !== undefined ? { name: change.name } : {}),
          ...(change.scopes !== undefined ? { scopes: JSON.stringify(change.scopes) as unknown as string[] } : {}),
          ...(change.tokenFormat !== undefined ? { token_format: change.tokenFormat } : {}),
          ...(change.accessTokenTtl !== undefined ? { access_token_ttl: change.accessTokenTtl } : {}),
          ...(change.dynamicClients !== undefined ? { dynamic_clients: change.dynamicClients } : {}),
        }).returning('*');
        return row && toResourceServer(row as ResourceServerRow);
      } finally {
        cache.invalidate(identifier);
      }
    },
    async delete(identifier: string): Promise<boolean> {
      cache.invalidate(identifier);
      return (await table().where({ identifier }).delete().returning('identifier')).length > 0;
    },
  };
}
