import { readFileSync } from 'node:fs';
import { createSecureContext, type ConnectionOptions } from 'node:tls';
import { ConfigError, type RedisTlsSetting } from '../config/index.ts';


/** node:tls options for a setting; `field` (e.g. "redis.cluster.tls") names it in errors. */
export function redisTlsOptions(setting: RedisTlsSetting | undefined, field: string): ConnectionOptions | undefined {
  if (!setting) return undefined;
  const options: ConnectionOptions = { rejectUnauthorized: true };
  if (setting === true) return options;
  for (const name of ['ca', 'cert', 'key'] as const) {
    const path = setting[name];
    if (!path) continue;
    try {
      options[name] = readFileSync(path);
    } catch (error) {
      throw new ConfigError(`${field}.${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }
  try {
    // a file that is no PEM certificate, or a key that is not the certificate's, is found now rather than at each connection
    createSecureContext(options);
  } catch (error) {
    throw new ConfigError(`${field}: ${(error as Error).message}`);
  }
  if (setting.servername) options.servername = setting.servername;
  return options;
}
