import { BlockList, isIP } from 'node:net';

/*
 * Where Tessera may send webhooks. An admin names the URL, but Tessera makes
 * the request from inside the network: without a policy a subscription is a
 * way to reach what only the server can (cloud metadata at 169.254.169.254,
 * an internal admin port on loopback). Absent means nothing: only https to
 * public addresses, unless the operator widens it.
 *
 * Checked twice: the URL when a subscription is created (its scheme, and its
 * address when it is one), and every address a host name resolves to when a
 * delivery is made — the connection then goes to the address that was
 * checked, so a name that resolves differently a moment later (DNS
 * rebinding) reaches nothing else.
 */

export interface DestinationPolicy {
  /** development: loopback receivers, plain http allowed to them */
  readonly allowHttpLoopback: boolean;
  /** private (RFC 1918, CGNAT, unique local) receivers */
  readonly allowPrivateNetworks: boolean;
}

export type AddressKind = 'public' | 'loopback' | 'private' | 'forbidden';

type Range = [network: string, prefix: number];

/**
 * One BlockList per family: node:net's BlockList matches IPv4 addresses
 * against IPv6 rules in their mapped form, so ::/96 would swallow all of IPv4.
 */
function ranges(ipv4: Range[], ipv6: Range[]) {
  const v4 = new BlockList();
  const v6 = new BlockList();
  for (const [network, prefix] of ipv4) v4.addSubnet(network, prefix, 'ipv4');
  for (const [network, prefix] of ipv6) v6.addSubnet(network, prefix, 'ipv6');
  return (address: string) => (isIP(address) === 6 ? v6.check(address, 'ipv6') : v4.check(address, 'ipv4'));
}

const isLoopback = ranges([['127.0.0.0', 8]], [['::1', 128]]);
const isPrivate = ranges(
  [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['100.64.0.0', 10]],
  [['fc00::', 7]],
);
/** Never: no one runs a webhook receiver here, and some of it is dangerous to reach (link-local: cloud metadata). */
const isForbidden = ranges(
  [['0.0.0.0', 8], ['169.254.0.0', 16], ['192.0.0.0', 24], ['192.0.2.0', 24], ['198.18.0.0', 15], ['198.51.100.0', 24],
    ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4]],
  [['::', 128], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['2001:db8::', 32], ['100::', 64],
    // IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo): the address inside is not judged, so none is reached
    ['::ffff:0:0', 96], ['::', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['2002::', 16], ['2001::', 32]],
);

export function addressKind(address: string): AddressKind {
  // first: ::1 lies inside ::/96 (IPv4-compatible), which is forbidden
  if (isLoopback(address)) return 'loopback';
  if (isForbidden(address)) return 'forbidden';
  if (isPrivate(address)) return 'private';
  return 'public';
}

/** Why an address may not be reached under the policy; undefined when it may. */
export function refusedAddress(address: string, policy: DestinationPolicy, scheme: 'http:' | 'https:'): string | undefined {
  const kind = addressKind(address);
  if (kind === 'forbidden') return `${address} is a link-local, reserved or special-purpose address`;
  if (kind === 'loopback' && !policy.allowHttpLoopback) return `${address} is a loopback address (allowed only with WEBHOOKS_ALLOW_HTTP_LOOPBACK=true, for development)`;
  if (kind === 'private' && !policy.allowPrivateNetworks) return `${address} is a private address (allowed only with WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true)`;
  if (scheme === 'http:' && kind !== 'loopback') return 'plain http is allowed only to loopback addresses (WEBHOOKS_ALLOW_HTTP_LOOPBACK=true)';
  return undefined;
}

/** The host of a URL without IPv6 brackets. */
export const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

const isLocalhostName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

/**
 * What is wrong with a receiver URL, as it is given (its address, when it is
 * one; a host name is checked again at each delivery, after it is resolved).
 */
export function refusedUrl(text: string, policy: DestinationPolicy): string | undefined {
  let url: URL;
  try { url = new URL(text); } catch { return 'is not a URL'; }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an https URL';
  if (url.username || url.password) return 'must not carry credentials (user:password@): they would be stored in clear';
  if (url.hash) return 'must not have a fragment';
  const host = hostOf(url).toLowerCase();
  if (isIP(host)) {
    const refused = refusedAddress(host, policy, url.protocol);
    return refused && `refused: ${refused}`;
  }
  if (isLocalhostName(host)) {
    return policy.allowHttpLoopback ? undefined : 'refused: localhost is loopback (allowed only with WEBHOOKS_ALLOW_HTTP_LOOPBACK=true, for development)';
  }
  if (url.protocol === 'http:') return 'must be an https URL (plain http only to loopback, with WEBHOOKS_ALLOW_HTTP_LOOPBACK=true)';
  return undefined;
}
