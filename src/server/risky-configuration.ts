import type { Config } from '../config/index.ts';
import type { Logger } from '../observability/index.ts';
import { isLoopbackHost } from '../http/index.ts';

/*
 * Settings that work but leave a hole open, each named in one warn line at
 * start. Settings that can never be safe are refused earlier, by loadConfig
 * (e.g. a proxy range covering every address).
 */

export interface Risk { readonly setting: 'issuer' | 'proxy' | 'redis' | 'webhooks' | 'backchannelLogout' | 'tls' | 'dynamicRegistration' | 'clientMetadataDocuments' | 'jwksUri'; readonly message: string }

/** Redis hosts off this machine that Tessera would reach without TLS. */
function clearTextRedisHosts(redis: Config['redis']): string[] {
  const offMachine = (nodes: Array<{ host: string }>) => nodes.map((n) => n.host).filter((host) => !isLoopbackHost(host));
  if (redis.cluster) return redis.cluster.tls ? [] : offMachine(redis.cluster.nodes);
  if (redis.sentinel) return redis.sentinel.tls ? [] : offMachine(redis.sentinel.sentinels);
  if (!redis.url) return [];
  try {
    const url = new URL(redis.url);
    return url.protocol === 'redis:' ? offMachine([{ host: url.hostname }]) : [];
  } catch {
    return [];
  }
}

/** The risky settings of a configuration, one sentence each. */
export function riskyConfiguration(config: Config): Risk[] {
  const risks: Risk[] = [];
  const risk = (setting: Risk['setting'], message: string) => risks.push({ setting, message });
  const issuer = new URL(config.issuer);
  if (issuer.protocol === 'http:' && !isLoopbackHost(issuer.hostname)) {
    risk('issuer', `the issuer ${config.issuer} is plain http on a host that is not loopback: codes, tokens, passwords and session cookies cross the network unencrypted; use an https:// issuer (TLS at a proxy, with TRUST_PROXY)`);
  }
  const { proxy } = config;
  if (proxy === true || (typeof proxy === 'object' && !proxy.addresses)) {
    const setting = proxy === true ? 'TRUST_PROXY=true (exactly one proxy)' : `TRUST_PROXY=${proxy.hops} (proxy.hops, with no proxy.addresses)`;
    risk('proxy', `${setting} believes X-Forwarded-* from a peer at any address: a client that can reach Tessera without going through the proxy can choose the address the login limits count; list the proxies' addresses (TRUST_PROXY=10.0.0.0/8,… or proxy.addresses) or let only the proxy connect`);
  }
  const servesTls = !!config.tls?.certFile;
  if (servesTls && issuer.protocol === 'http:') {
    risk('issuer', `TLS_CERT_FILE is set (Tessera serves https itself) but the issuer ${config.issuer} is http: discovery, redirects and tokens name an address that does not answer; use ISSUER=https://…`);
  }
  if (issuer.protocol === 'https:' && proxy === false && !servesTls) {
    risk('proxy', `the issuer ${config.issuer} is https but no proxy is trusted: Tessera serves plain http itself, so X-Forwarded-Proto from the TLS proxy is ignored and /auth fails (its Secure cookies cannot be set on what looks like plain http); set TRUST_PROXY`);
  }
  const header = config.tls?.clientCertificateHeader;
  if (header && proxy === false) {
    risk('tls', `TLS_CLIENT_CERT_HEADER=${header} but no proxy is trusted: the header is never believed, so no client certificate reaches Tessera that way; set TRUST_PROXY to the TLS proxy's address`);
  } else if (header && (proxy === true || (typeof proxy === 'object' && !proxy.addresses))) {
    risk('tls', `TLS_CLIENT_CERT_HEADER=${header} is believed from a proxy at any address: a client that reaches Tessera without going through the proxy can claim any client certificate; list the proxies' addresses (TRUST_PROXY=10.0.0.0/8,…)`);
  }
  const clearText = clearTextRedisHosts(config.redis);
  if (clearText.length) {
    risk('redis', `Redis at ${clearText.join(', ')} is reached without TLS: its password and the token state cross the network unencrypted; use a rediss:// URL, or redis.sentinel.tls / redis.cluster.tls`);
  }
  if (config.webhooks.allowHttpLoopback && !isLoopbackHost(issuer.hostname)) {
    risk('webhooks', 'WEBHOOKS_ALLOW_HTTP_LOOPBACK=true (a development setting) on a server whose issuer is not loopback: admins can point webhooks at services listening on this machine\'s loopback interface');
  }
  if (config.backchannelLogout?.allowLoopback && !isLoopbackHost(issuer.hostname)) {
    risk('backchannelLogout', `BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK=true on the issuer ${config.issuer}, which is not loopback: clients may have logout tokens posted to services on this machine; it is meant for development`);
  }
  if (config.jwksUri?.allowLoopback && !isLoopbackHost(issuer.hostname)) {
    risk('jwksUri', `JWKS_URI_ALLOW_LOOPBACK=true on the issuer ${config.issuer}, which is not loopback: clients may have the server fetch their keys from services on this machine; it is meant for development`);
  }
  if (config.dynamicRegistration.mode === 'open' && config.rateLimits.registrationPerIp === false) {
    risk('dynamicRegistration', `DYNAMIC_REGISTRATION=open with rateLimits.registrationPerIp off: anyone may register clients as fast as they can send requests, up to ${config.dynamicRegistration.maxClients} of them; keep the per-address limit, or use DYNAMIC_REGISTRATION=token`);
  }
  if (config.clientMetadataDocuments?.allowLoopback && !isLoopbackHost(issuer.hostname)) {
    risk('clientMetadataDocuments', `CLIENT_METADATA_ALLOW_LOOPBACK=true on the issuer ${config.issuer}, which is not loopback: anyone may make Tessera fetch client metadata documents from services on this machine; it is meant for development`);
  }
  return risks;
}

/** One warn line per risky setting. */
export function warnAboutRiskyConfiguration(config: Config, logger: Logger): void {
  for (const { setting, message } of riskyConfiguration(config)) logger.warn({ setting }, `risky configuration: ${message}`);
}
