import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Provider from 'oidc-provider';
import type { ClientRepository } from '../clients/index.ts';
import { writePrivateFile } from '../keys/index.ts';
import { ADMIN_SCOPE, clientMetadataValidator } from '../provider/index.ts';

export const ADMIN_CLIENT_FILE = 'admin-client.json';
export const DEFAULT_ADMIN_CLIENT_ID = 'tessera-admin';

export interface AdminCredentials { client_id: string; client_secret: string }

/** Where admin credentials come from: the environment, else KEYS_DIR/admin-client.json. */
export function readAdminCredentials(keysDir: string, env: NodeJS.ProcessEnv = process.env): AdminCredentials | undefined {
  if (env.TESSERA_ADMIN_CLIENT_ID && env.TESSERA_ADMIN_CLIENT_SECRET) {
    return { client_id: env.TESSERA_ADMIN_CLIENT_ID, client_secret: env.TESSERA_ADMIN_CLIENT_SECRET };
  }
  const path = join(keysDir, ADMIN_CLIENT_FILE);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as AdminCredentials;
}

/**
 * Makes sure the admin client exists. On first start it is created and its
 * credentials written to KEYS_DIR/admin-client.json (mode 0600); credentials
 * given by the environment or an existing file are registered as they are.
 */
export async function ensureAdminClient(deps: { clients: ClientRepository; provider: Provider; keysDir: string; env?: NodeJS.ProcessEnv }): Promise<AdminCredentials> {
  const known = readAdminCredentials(deps.keysDir, deps.env);
  const clientId = known?.client_id ?? DEFAULT_ADMIN_CLIENT_ID;
  if (known && await deps.clients.find(clientId)) return known;

  const { clientSecret } = await deps.clients.create({
    clientId,
    clientSecret: known?.client_secret,
    name: 'Tessera administration',
    grantTypes: ['client_credentials'],
    scopes: [ADMIN_SCOPE],
    firstParty: true,
  }, clientMetadataValidator(deps.provider as never));
  const credentials = { client_id: clientId, client_secret: clientSecret! };
  if (!known) writePrivateFile(join(deps.keysDir, ADMIN_CLIENT_FILE), `${JSON.stringify(credentials, null, 2)}\n`);
  return credentials;
}
