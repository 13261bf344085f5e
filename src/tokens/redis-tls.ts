import { readFileSync } from 'node:fs';
import { createSecureContext, type ConnectionOptions } from 'node:tls';
import { ConfigError } from '../config/load.ts';

/**
 * TLS to Redis under Sentinel or Cluster (`rediss://` is the single node's
 * way): `true` checks the server's certificate against the system's CAs; an
 * object names files (PEM paths) read when the connection is created: `ca`
 * for a private CA, `cert` + `key` for servers that ask for a client
 * certificate (Redis does by default, `tls-auth-clients yes`), and
 * `servername` when the certificates do not name the addresses that Sentinel
 * or the cluster announce (usually IP addresses). Absent or false: no TLS.
 * There is no way to turn certificate checks off: a connection whose peer is
 * not checked is no safer than clear text against anyone on the path.
 */
export type RedisTlsSetting = boolean | {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
};

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
