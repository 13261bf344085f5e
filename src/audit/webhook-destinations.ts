import { isIP } from 'node:net';
import { addressKind, type AddressKind } from '../http/index.ts';

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

export { addressKind, type AddressKind };

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
