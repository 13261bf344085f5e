import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { ClientRepository } from '../clients/index.ts';
import { clientSecretMatches } from '../clients/index.ts';
import type { AdapterFactory } from '../tokens/index.ts';

/**
 * Clients live in SQL and are managed by the admin API, not by the provider:
 * its Client model only reads them.
 */
function createClientAdapter(clients: ClientRepository): Adapter {
  const readOnly = async () => { throw new Error('clients are managed through the admin API'); };
  return {
    find: async (id: string) => clients.findProviderMetadata(id) as Promise<AdapterPayload | undefined>,
    upsert: readOnly,
    destroy: readOnly,
    consume: readOnly,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    revokeByGrantId: async () => {},
  };
}

/** Routes the Client model to SQL and every other model to the token state. */
export function routeAdapters(tokenStateAdapters: AdapterFactory, clients: ClientRepository): AdapterFactory {
  const clientAdapter = createClientAdapter(clients);
  return (model: string) => (model === 'Client' ? clientAdapter : tokenStateAdapters(model));
}

/**
 * The stored client_secret is a SHA-256 digest; the provider's comparison of
 * the presented secret must go through the digest (constant time).
 */
export function compareSecretsByDigest(ClientModel: { prototype: { compareClientSecret(actual: string): unknown; clientSecret?: string } }): void {
  ClientModel.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, actual: string) {
    return typeof this.clientSecret === 'string' && typeof actual === 'string' && clientSecretMatches(this.clientSecret, actual);
  };
}

/**
 * Client.find builds a Client from the adapter's metadata and, on every call,
 * serializes and hashes that metadata to find the Client it built before
 * (about 2% of a client_credentials request). The repository hands out the
 * same metadata object for as long as it caches it, so the built Client is
 * remembered per metadata object instead: a changed or deleted client yields
 * a new object (or none) and so a new Client, as before.
 */
export function reuseBuiltClients(ClientModel: { find(id: string): Promise<unknown> }, clients: ClientRepository): void {
  const builtFrom = new WeakMap<object, unknown>();
  const findAndBuild = ClientModel.find.bind(ClientModel);
  ClientModel.find = async (id: string) => {
    if (typeof id !== 'string' || !id) return findAndBuild(id);
    const metadata = await clients.findProviderMetadata(id);
    if (!metadata) return findAndBuild(id);
    const built = builtFrom.get(metadata);
    if (built) return built;
    const client = await findAndBuild(id);
    if (client) builtFrom.set(metadata, client);
    return client;
  };
}

export class InvalidClientMetadataError extends Error {}

/** Validates client metadata with the provider's own rules; throws with its description. */
export function clientMetadataValidator(provider: { Client: { validate(metadata: never): Promise<void> } }) {
  return async (metadata: Record<string, unknown>) => {
    try {
      await provider.Client.validate(metadata as never);
    } catch (error) {
      const e = error as { error_description?: string; message: string };
      throw new InvalidClientMetadataError(e.error_description ?? e.message);
    }
  };
}
