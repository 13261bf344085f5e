import { BlockList, isIP } from 'node:net';

/*
 * What kind of address a connection would reach: the one classification
 * every outgoing request to a URL someone else chose goes through (webhooks:
 * src/audit/webhook-destinations.ts; client ID metadata documents:
 * src/clients/client-metadata-documents.ts).
 */

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

/** public, loopback, private (RFC 1918, CGNAT, unique local), or forbidden (link-local, reserved, multicast, IPv4-in-IPv6 forms) */
export function addressKind(address: string): AddressKind {
  // first: ::1 lies inside ::/96 (IPv4-compatible), which is forbidden
  if (isLoopback(address)) return 'loopback';
  if (isForbidden(address)) return 'forbidden';
  if (isPrivate(address)) return 'private';
  return 'public';
}

