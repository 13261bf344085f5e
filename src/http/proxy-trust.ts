import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { NodeHandler } from './request-id.ts';
import { BlockList, isIP } from 'node:net';

/*
 * Which X-Forwarded-For / -Proto / -Host Tessera believes, and what it takes
 * from them: the address, protocol and host the outermost trusted proxy saw,
 * as Express's `trust proxy` does. The X-Forwarded-For list is walked from the
 * right (the entry the nearest proxy appended) while the hop it names is a
 * trusted proxy; the first one that is not is the client. Nothing is read
 * unless the TCP peer itself is a trusted proxy, so headers a client sends
 * directly change nothing. Koa alone would take the leftmost entry, which the
 * client writes.
 */

/**
 * The `proxy` setting (env TRUST_PROXY):
 *   false              no proxy: the TCP peer is the client, X-Forwarded-* are ignored
 *   true               exactly one proxy, whatever its address (same as { hops: 1 })
 *   { hops: n }        n proxies in front of Tessera, whatever their addresses
 *   { addresses: [] }  proxies at these addresses or CIDR ranges (IPv4, IPv6), any number of them
 *   both               at most n proxies, each at one of the addresses
 */
export type ProxyTrustConfig = boolean | { readonly hops?: number; readonly addresses?: readonly string[] };

export interface AddressRange {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** "10.0.0.0/8", "fd00::/8", "192.0.2.7" or "2001:db8::1" (a single address); undefined when it is none of these. */
export function parseAddressRange(text: string): AddressRange | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (!version || address.includes('%')) return undefined; // a zone names an interface, not a range
  const max = version === 4 ? 32 : 128;
  const bits = slash === -1 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return undefined;
  return { address, prefix: Number(bits), family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The config schema's "ip-or-cidr" format. */
export const isAddressOrRange = (text: string): boolean => parseAddressRange(text) !== undefined;

/**
 * TRUST_PROXY as the `proxy` setting: "true" (one hop), "false" or empty
 * (none), a number of hops ("0": none), or a comma-separated list of proxy
 * addresses and CIDR ranges. undefined when it is none of these.
 */
export function proxyTrustFromEnvironment(value: string): ProxyTrustConfig | undefined {
  const text = value.trim().toLowerCase();
  if (text === 'true') return true;
  if (text === 'false' || text === '') return false;
  if (/^\d+$/.test(text)) return Number(text) === 0 ? false : { hops: Number(text) };
  const addresses = text.split(',').map((entry) => entry.trim());
  return addresses.every(isAddressOrRange) ? { addresses } : undefined;
}

/** Why a `proxy` setting the schema accepts can still never be safe; undefined when it can. */
export function unsafeProxyTrust(config: ProxyTrustConfig): string | undefined {
  if (typeof config !== 'object') return undefined;
  const everything = config.addresses?.find((entry) => parseAddressRange(entry)?.prefix === 0);
  if (everything !== undefined) {
    return `proxy.addresses: ${everything} makes every address a trusted proxy, so any client could choose the IP the login limits count; list your proxies' addresses`;
  }
  return undefined;
}

export interface ProxyTrust {
  /** whether the address at `hop` of the chain (0: the TCP peer, 1: the rightmost X-Forwarded-For entry, …) is a proxy to believe */
  trusts(address: string, hop: number): boolean;
}

/** The trust a `proxy` setting describes; undefined when no proxy is trusted. */
export function proxyTrustOf(config: ProxyTrustConfig): ProxyTrust | undefined {
  if (config === false) return undefined;
  const hops = config === true ? 1 : config.hops;
  const addresses = config === true ? undefined : config.addresses;
  const ranges = addresses ? new BlockList() : undefined;
  for (const entry of addresses ?? []) {
    const range = parseAddressRange(entry);
    if (!range) throw new Error(`proxy.addresses: ${entry} is not an address or CIDR range`); // the schema lets none through
    ranges!.addSubnet(range.address, range.prefix, range.family);
  }
  if (hops === undefined && !ranges) return undefined;
  return {
    trusts(address, hop) {
      if (hops !== undefined && hop >= hops) return false;
      if (!ranges) return true;
      const bare = address.split('%')[0]; // a link-local peer's zone
      const version = isIP(bare);
      // an IPv4-mapped IPv6 address (a dual-stack socket) matches IPv4 ranges: BlockList sees to it
      return version !== 0 && ranges.check(bare, version === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/**
 * An X-Forwarded-For entry as an address: bare, IPv4 with a port, or a
 * bracketed IPv6 with or without one (some proxies add the port); undefined
 * when it is not an address.
 */
function addressOfEntry(entry: string): string | undefined {
  if (isIP(entry)) return entry;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(entry);
  if (bracketed) return isIP(bracketed[1]) === 6 ? bracketed[1] : undefined;
  const withPort = /^([\d.]+):\d{1,5}$/.exec(entry);
  return withPort && isIP(withPort[1]) === 4 ? withPort[1] : undefined;
}

/** A header's comma-separated entries, positions kept (an empty entry stays one). */
function entriesOf(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value.join(',') : value).split(',').map((entry) => entry.trim());
}

const PROTOCOL = /^https?$/;
/** a host name or IP address with an optional port, as in a Host header */
const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export interface Forwarded {
  /** the client's address: what the outermost trusted proxy saw, or the TCP peer */
  readonly address: string;
  /** how many trusted proxies stand between the client and Tessera */
  readonly proxies: number;
  /** X-Forwarded-Proto as the outermost trusted proxy wrote it; undefined when not believed or not http/https */
  readonly protocol?: 'http' | 'https';
  /** X-Forwarded-Host as the outermost trusted proxy wrote it; undefined when not believed or not a host */
  readonly host?: string;
}

/**
 * The client as the trusted proxies report it. `peer` is the TCP peer's address.
 * When the walk meets an entry that is not an address, the last hop it could
 * read is taken as the client: a trusted proxy wrote nothing usable, and no
 * text a client chose becomes its address.
 */
export function resolveForwarded(trust: ProxyTrust | undefined, peer: string, headers: IncomingHttpHeaders): Forwarded {
  if (!trust || !peer || !trust.trusts(peer, 0)) return { address: peer, proxies: 0 };
  const entries = entriesOf(headers['x-forwarded-for']);
  const chain = [peer];
  for (let hop = 1; hop <= entries.length; hop++) {
    const address = addressOfEntry(entries[entries.length - hop]);
    if (address === undefined) break;
    chain.push(address);
    if (!trust.trusts(address, hop)) break;
  }
  const client = chain.length - 1;
  // The peer is trusted, so it forwarded at least the protocol and host it saw.
  // Each trusted proxy that appends to X-Forwarded-Proto/-Host adds one entry:
  // the outermost one's is as many places from the right as there are proxies,
  // and never further left, where the client writes.
  const proxies = Math.max(1, client);
  const outermost = (list: string[]) => (list.length ? list[Math.max(0, list.length - proxies)] : undefined);
  const protocol = outermost(entriesOf(headers['x-forwarded-proto']))?.toLowerCase();
  const host = outermost(entriesOf(headers['x-forwarded-host']));
  return {
    address: chain[client],
    proxies: client,
    protocol: protocol !== undefined && PROTOCOL.test(protocol) ? protocol as 'http' | 'https' : undefined,
    host: host !== undefined && HOST.test(host) ? host : undefined,
  };
}


function setOrRemove(headers: IncomingHttpHeaders, name: 'x-forwarded-for' | 'x-forwarded-proto' | 'x-forwarded-host', value: string | undefined) {
  if (value === undefined) delete headers[name];
  else headers[name] = value;
}

/**
 * Resolves the client once per request, before anything else reads the
 * request, and leaves on it only what was believed: X-Forwarded-For becomes
 * the client's address alone (removed when that is the TCP peer),
 * X-Forwarded-Proto and -Host the believed values (removed when none). Both
 * Koa apps (Tessera's and oidc-provider's) run with `proxy` on exactly when
 * some proxy is trusted, so their ctx.ip, ctx.protocol and ctx.host read
 * these and never what a client wrote. With no proxy trusted the apps ignore
 * the headers and this adds nothing to a request.
 */
export function believeTrustedProxies(config: ProxyTrustConfig, handler: NodeHandler): NodeHandler {
  const trust = proxyTrustOf(config);
  if (!trust) return handler;
  return (req, res) => {
    const peer = req.socket.remoteAddress ?? '';
    const forwarded = resolveForwarded(trust, peer, req.headers);
    (req as { [CLIENT_ADDRESS]?: string })[CLIENT_ADDRESS] = forwarded.address;
    if (trust.trusts(peer, 0)) (req as { [THROUGH_TRUSTED_PROXY]?: boolean })[THROUGH_TRUSTED_PROXY] = true;
    setOrRemove(req.headers, 'x-forwarded-for', forwarded.proxies ? forwarded.address : undefined);
    setOrRemove(req.headers, 'x-forwarded-proto', forwarded.protocol);
    setOrRemove(req.headers, 'x-forwarded-host', forwarded.host);
    return handler(req, res);
  };
}

const CLIENT_ADDRESS = Symbol('tessera.clientAddress');
const THROUGH_TRUSTED_PROXY = Symbol('tessera.throughTrustedProxy');

/**
 * Whether the request's TCP peer is a proxy the `proxy` setting trusts, as
 * believeTrustedProxies found: only then are headers that the proxy sets
 * (X-Forwarded-*, a client certificate header) its word rather than the
 * client's. False when no proxy is trusted.
 */
export function cameThroughTrustedProxy(req: IncomingMessage): boolean {
  return (req as { [THROUGH_TRUSTED_PROXY]?: boolean })[THROUGH_TRUSTED_PROXY] === true;
}

/**
 * The client's address as believeTrustedProxies resolved it (what both Koa
 * apps' ctx.ip say), read on Node's own request; the TCP peer when no proxy is
 * trusted. Never a header a client wrote itself.
 */
export function clientAddressOf(req: IncomingMessage): string {
  return (req as { [CLIENT_ADDRESS]?: string })[CLIENT_ADDRESS] ?? req.socket.remoteAddress ?? '';
}
