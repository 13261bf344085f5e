import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { ClientRepository } from '../clients/index.ts';
import { allowedOidcScopes, clientSecretMatches, ClientMetadataDocumentRefused } from '../clients/index.ts';
import type { AdapterFactory } from '../tokens/index.ts';

/** Where the provider's clients come from: SQL, and client ID metadata documents when they are on (client-metadata-documents.ts). */
export type ClientMetadataSource = Pick<ClientRepository, 'findProviderMetadata'>;

/**
 * Clients live in SQL and are managed by the admin API, not by the provider:
 * its Client model only reads them.
 */
function createClientAdapter(clients: ClientMetadataSource): Adapter {
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
export function routeAdapters(tokenStateAdapters: AdapterFactory, clients: ClientMetadataSource): AdapterFactory {
  const clientAdapter = createClientAdapter(clients);
  return (model: string) => (model === 'Client' ? clientAdapter : tokenStateAdapters(model));
}

/**
 * The stored client_secret is a SHA-256 digest; the provider's comparison of
 * the presented secret must go through the digest (constant time). During a
 * rotation's grace period the previous secret's digest is compared as well,
 * always (no early exit that would tell which one matched, or how fast).
 */
export function compareSecretsByDigest(ClientModel: { prototype: { compareClientSecret(actual: string): unknown; clientSecret?: string } }): void {
  ClientModel.prototype.compareClientSecret = function compareClientSecret(this: GraceSecrets, actual: string) {
    if (typeof this.clientSecret !== 'string' || typeof actual !== 'string') return false;
    const current = clientSecretMatches(this.clientSecret, actual);
    const previous = typeof this.previous_client_secret === 'string' && clientSecretMatches(this.previous_client_secret, actual);
    const graceLasts = typeof this.previous_client_secret_expires_at === 'number' && Date.now() < this.previous_client_secret_expires_at * 1000;
    return current || (previous && graceLasts);
  };
}

interface GraceSecrets { clientSecret?: string; previous_client_secret?: unknown; previous_client_secret_expires_at?: unknown }

/**
 * Client.find builds a Client from the adapter's metadata and, on every call,
 * serializes and hashes that metadata to find the Client it built before,
 * work repeated on every token request. The repository hands out the
 * same metadata object for as long as it caches it, so the built Client is
 * remembered per metadata object instead: a changed or deleted client yields
 * a new object (or none) and so a new Client, as before. Every built client
 * gets Tessera's client policy here (applyTesseraClientPolicy).
 *
 * Without mTLS (`mtls` false) a client stored with certificate-bound tokens,
 * tls_client_auth or self_signed_tls_client_auth is not found (invalid_client everywhere, its tokens
 * inactive): the provider would otherwise drop the binding and hand out
 * bearer tokens, or fail on the unknown method with a server error.
 */
export function reuseBuiltClients(ClientModel: { find(id: string): Promise<unknown> }, clients: ClientMetadataSource, options: { mtls: boolean }): void {
  const builtFrom = new WeakMap<object, unknown>();
  const findAndBuild = ClientModel.find.bind(ClientModel);
  ClientModel.find = async (id: string) => {
    if (typeof id !== 'string' || !id) return findAndBuild(id);
    const metadata = await findOrRefuse(clients, id);
    if (!metadata) return findAndBuild(id);
    if (!options.mtls && (metadata.tls_client_certificate_bound_access_tokens === true || metadata.token_endpoint_auth_method === 'tls_client_auth'
      || metadata.token_endpoint_auth_method === 'self_signed_tls_client_auth')) return undefined;
    const built = builtFrom.get(metadata);
    if (built) return built;
    const client = await findAndBuild(id);
    if (client) {
      applyTesseraClientPolicy(client as BuiltClient, metadata);
      builtFrom.set(metadata, client);
    }
    return client;
  };
}

/**
 * A client ID metadata document Tessera refused is invalid_client, saying
 * why (a page at /auth, JSON at the token endpoint), never a server error.
 */
async function findOrRefuse(clients: ClientMetadataSource, id: string): Promise<Record<string, unknown> | undefined> {
  try {
    return await clients.findProviderMetadata(id);
  } catch (error) {
    if (error instanceof ClientMetadataDocumentRefused) {
      throw new errors.InvalidClient(`the client's metadata document (${id}) cannot be used: ${error.message}`);
    }
    throw error;
  }
}

/**
 * Stands for "no OpenID Connect scope" in a built client's `scope`. The
 * provider rejects a requested OIDC scope missing from a client's `scope`
 * (invalid_scope at /auth, the token endpoint and every grant) but reads an
 * empty `scope` as "every scope": absent must mean nothing here, so a client
 * allowed no OIDC scope gets this token, which no request can match (the
 * provider only checks the scopes it supports against the list).
 */
const NO_OIDC_SCOPE = 'tessera:no-oidc-scope';

/**
 * The provider enforces a client's `scope` metadata; Tessera's allow-list is
 * the authority, so the built client's `scope` is set from it: its OIDC
 * scopes, or NO_OIDC_SCOPE. Applied to the built client rather than stored,
 * because the provider's metadata validation refuses non-OIDC values.
 */
function restrictOidcScopesToAllowList(client: { scope?: string }, metadata: Record<string, unknown>): void {
  client.scope = allowedOidcScopes(metadata).join(' ') || NO_OIDC_SCOPE;
}

interface BuiltClient { scope?: string; grantTypes: string[]; tokenEndpointAuthMethod?: string }

/**
 * What Tessera requires of every client beyond the provider's own checks,
 * applied to the built client so that clients stored before a rule existed
 * obey it too: OIDC scopes only from the allow-list, and client_credentials
 * only for a client that authenticates (RFC 6749 §4.4: a public client's
 * client_id proves nothing, so it would get tokens — admin ones included —
 * for the asking; registrations refuse the combination as well).
 */
function applyTesseraClientPolicy(client: BuiltClient, metadata: Record<string, unknown>): void {
  restrictOidcScopesToAllowList(client, metadata);
  if (client.tokenEndpointAuthMethod === 'none') client.grantTypes = client.grantTypes.filter((grant) => grant !== 'client_credentials');
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
