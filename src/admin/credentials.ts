// The admin client's credentials as the configuration gives them. A light
// entry of the admin folder (node:fs and node:path only), re-exported by the
// barrel: the CLI reads the credentials through it without loading the admin
// API, the provider or the stores (see the rule in ./index.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ADMIN_CLIENT_FILE = 'admin-client.json';
export const ID_VARIABLE = 'TESSERA_ADMIN_CLIENT_ID';
export const SECRET_VARIABLE = 'TESSERA_ADMIN_CLIENT_SECRET';

export interface AdminCredentials { client_id: string; client_secret: string }

/** The admin client's configuration cannot be used: the server does not start. Never holds the secret. */
export class AdminClientConfigError extends Error {}

export interface ConfiguredCredentials { credentials: AdminCredentials; secretSource: string }

/** The credentials and where the secret came from (for messages: never the secret itself). */
export function readConfiguredCredentials(keysDir: string, env: NodeJS.ProcessEnv): ConfiguredCredentials | undefined {
  const id = env[ID_VARIABLE];
  const secret = env[SECRET_VARIABLE];
  if (id && secret) return { credentials: { client_id: id, client_secret: secret }, secretSource: SECRET_VARIABLE };
  // one without the other would otherwise be ignored in silence
  if (id || secret) {
    throw new AdminClientConfigError(`${id ? ID_VARIABLE : SECRET_VARIABLE} is set but ${id ? SECRET_VARIABLE : ID_VARIABLE} is not: set both, or neither to use KEYS_DIR/${ADMIN_CLIENT_FILE}`);
  }
  const path = join(keysDir, ADMIN_CLIENT_FILE);
  if (!existsSync(path)) return undefined;
  return { credentials: JSON.parse(readFileSync(path, 'utf8')) as AdminCredentials, secretSource: `client_secret of ${path}` };
}

/** Where admin credentials come from: the environment, else KEYS_DIR/admin-client.json. */
export function readAdminCredentials(keysDir: string, env: NodeJS.ProcessEnv = process.env): AdminCredentials | undefined {
  return readConfiguredCredentials(keysDir, env)?.credentials;
}
