import { join } from 'node:path';
import type Provider from 'oidc-provider';
import { clientMetadataOf, clientSecretMatches, type ClientRecord, type ClientRepository, type NewClient } from '../clients/index.ts';
import type { AuditRecord } from '../audit/index.ts';
import type { Logger } from '../observability/index.ts';
import { writePrivateFile } from '../keys/index.ts';
import { ADMIN_SCOPE, clientMetadataValidator } from '../provider/index.ts';
import { secretWeakness } from './secret-strength.ts';
import {
  ADMIN_CLIENT_FILE, AdminClientConfigError, ID_VARIABLE, SECRET_VARIABLE, readConfiguredCredentials, type AdminCredentials,
} from './credentials.ts';

export { ADMIN_CLIENT_FILE, AdminClientConfigError, readAdminCredentials, type AdminCredentials } from './credentials.ts';

export const DEFAULT_ADMIN_CLIENT_ID = 'tessera-admin';
/** who the audit log names for what the server's configuration did */
const CONFIGURATION_ACTOR = 'configuration';

/** The admin client, whatever the database held before: client_credentials, first party, exactly the `admin` scope. */
function adminClientOf(clientId: string, clientSecret: string | undefined): NewClient {
  return {
    clientId,
    clientSecret,
    name: 'Tessera administration',
    grantTypes: ['client_credentials'],
    scopes: [ADMIN_SCOPE],
    firstParty: true,
    bootstrapAdmin: true,
  };
}

/** JSON equality regardless of key order (the database returns jsonb keys in its own order). */
function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([k, v]) => [k, canonical(v)]));
    }
    return value;
  };
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function hasAdminShape(record: ClientRecord, wanted: NewClient): boolean {
  return sameJson(record.metadata, clientMetadataOf(wanted, record.clientId))
    && record.name === wanted.name && record.firstParty && record.bootstrapAdmin && record.introspectFor.length === 0;
}

/**
 * Makes the admin client what the configuration says, at every start. On a
 * first start without configuration it is created and its credentials
 * written to KEYS_DIR/admin-client.json (mode 0600). Credentials given by the
 * environment (or that file) are what is stored:
 *
 * - A new secret replaces the stored one: the old one is refused at every
 *   instance once this returns, and the access tokens issued with it are
 *   inactive (the repository's change protocol, tokens_not_before).
 * - A new TESSERA_ADMIN_CLIENT_ID makes that client the admin client and
 *   deletes the one an earlier configuration defined (and so its tokens): a
 *   credential nobody configures any more must not stay valid.
 * - A secret a person chose is refused when it is weak (secret-strength.ts).
 *
 * Why a plain SHA-256 of this secret is acceptable (as for generated client
 * secrets, DESIGN "Token rules"): what makes a fast unsalted digest unsafe is
 * a guessable input — a dump of the clients table would give it up to a
 * dictionary or brute-force search. The strength check refuses any secret
 * under 128 bits of estimated entropy, beyond any search, and precomputed
 * tables (what a salt defeats) are equally out of reach at that size. A slow
 * salted hash (argon2id) would add its cost to every admin token request and
 * make the admin client the one client whose secret cannot be compared by
 * digest, for no gain against a secret that cannot be guessed.
 */
export async function ensureAdminClient(deps: {
  clients: ClientRepository;
  provider: Provider;
  keysDir: string;
  env?: NodeJS.ProcessEnv;
  audit?: { record(event: AuditRecord): Promise<void> };
  logger?: Pick<Logger, 'info' | 'warn'>;
}): Promise<AdminCredentials> {
  const configured = readConfiguredCredentials(deps.keysDir, deps.env ?? process.env);
  if (configured) {
    const weakness = secretWeakness(String(configured.credentials.client_secret ?? ''));
    if (weakness) {
      throw new AdminClientConfigError(`${configured.secretSource} is too weak: ${weakness}. Use a random secret of at least 32 characters, e.g. the output of \`openssl rand -base64 32\`.`);
    }
  }
  const validate = clientMetadataValidator(deps.provider as never);
  const clientId = configured?.credentials.client_id ?? DEFAULT_ADMIN_CLIENT_ID;
  const record = (type: string, subject: string, details: Record<string, unknown>) =>
    deps.audit?.record({ type, actor: CONFIGURATION_ACTOR, subject, clientId: subject, details });

  const existing = await deps.clients.find(clientId);
  let credentials: AdminCredentials;
  if (!existing) {
    const { clientSecret } = await deps.clients.create(adminClientOf(clientId, configured?.credentials.client_secret), validate);
    credentials = { client_id: clientId, client_secret: clientSecret! };
    if (!configured) {
      const path = join(deps.keysDir, ADMIN_CLIENT_FILE);
      writePrivateFile(path, `${JSON.stringify(credentials, null, 2)}\n`);
      // where, never what: the operator's CLI reads the file
      deps.logger?.info({ clientId, path }, `admin client created; its credentials were written to ${path} (the tessera CLI reads them)`);
    }
    await record('client.created', clientId, { name: 'Tessera administration', scopes: [ADMIN_SCOPE], first_party: true, grants_admin: true });
  } else if (!configured) {
    throw new AdminClientConfigError(`the admin client ${clientId} exists but its credentials are missing: restore KEYS_DIR/${ADMIN_CLIENT_FILE}, or set ${ID_VARIABLE} and ${SECRET_VARIABLE} (a new secret replaces the stored one)`);
  } else {
    credentials = configured.credentials;
    const wanted = adminClientOf(clientId, credentials.client_secret);
    const stored = (await deps.clients.findProviderMetadata(clientId))?.client_secret;
    const sameSecret = typeof stored === 'string' && clientSecretMatches(stored, credentials.client_secret);
    if (!sameSecret || !hasAdminShape(existing, wanted)) {
      await deps.clients.update(clientId, wanted, validate);
      await record(sameSecret ? 'client.updated' : 'client.secret_rotated', clientId, { reason: `set from ${sameSecret ? 'the admin client definition' : configured.secretSource}` });
      if (!sameSecret) deps.logger?.info({ clientId }, `admin client secret replaced from ${configured.secretSource}: the previous secret and the tokens issued with it are no longer accepted`);
    }
  }

  for (const previous of await deps.clients.bootstrapAdmins()) {
    if (previous.clientId === clientId) continue;
    await deps.clients.delete(previous.clientId);
    await record('client.deleted', previous.clientId, { reason: `the configured admin client is now ${clientId}` });
    deps.logger?.warn({ clientId: previous.clientId, adminClientId: clientId }, 'the previous admin client was deleted: the configuration names another one');
  }
  return credentials;
}
