/*
 * Which address, protocol and host Tessera takes from X-Forwarded-*: only what
 * trusted proxies wrote, walking X-Forwarded-For from the right as Express's
 * `trust proxy` does.
 */
import { describe, expect, test } from '@jest/globals';
import {
  parseAddressRange, proxyTrustFromEnvironment, proxyTrustOf, resolveForwarded, unsafeProxyTrust, type ProxyTrustConfig,
} from '../../src/http/proxy-trust.ts';

const resolve = (config: ProxyTrustConfig, peer: string, headers: Record<string, string> = {}) =>
  resolveForwarded(proxyTrustOf(config), peer, headers);
const clientOf = (config: ProxyTrustConfig, peer: string, forwardedFor?: string) =>
  resolve(config, peer, forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }).address;

describe('the client address', () => {
  test('no proxy trusted: the TCP peer, whatever the headers say', () => {
    expect(resolve(false, '203.0.113.9', { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }))
      .toEqual({ address: '203.0.113.9', proxies: 0 });
  });

  test('a peer that is not one of the listed proxies: its headers change nothing', () => {
    const config = { addresses: ['10.0.0.0/8'] };
    expect(resolve(config, '203.0.113.9', { 'x-forwarded-for': '10.0.0.7, 198.51.100.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }))
      .toEqual({ address: '203.0.113.9', proxies: 0 });
  });

  test('one hop (TRUST_PROXY=true): the entry the proxy appended, not one the client prepended', () => {
    expect(clientOf(true, '10.0.0.1', '198.51.100.66, 203.0.113.9')).toBe('203.0.113.9');
    expect(clientOf(true, '10.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
    expect(clientOf({ hops: 1 }, '10.0.0.1', '1.1.1.1,2.2.2.2 ,  203.0.113.9')).toBe('203.0.113.9');
    // a proxy that added nothing: the peer is the client
    expect(clientOf(true, '10.0.0.1')).toBe('10.0.0.1');
  });

  test('n hops: the address the n-th proxy from Tessera saw; fewer entries than hops: the leftmost', () => {
    const forwardedFor = '198.51.100.66, 203.0.113.9, 10.0.0.2';
    expect(clientOf({ hops: 2 }, '10.0.0.1', forwardedFor)).toBe('203.0.113.9');
    expect(clientOf({ hops: 3 }, '10.0.0.1', forwardedFor)).toBe('198.51.100.66');
    expect(clientOf({ hops: 5 }, '10.0.0.1', forwardedFor)).toBe('198.51.100.66');
  });

  test('listed proxies (CIDR ranges, IPv4 and IPv6): the first address from the right that is not one of them', () => {
    const config = { addresses: ['10.0.0.0/8', '192.0.2.10', 'fd00::/8'] };
    expect(clientOf(config, '10.1.2.3', '198.51.100.66, 203.0.113.9, 192.0.2.10, 10.9.9.9')).toBe('203.0.113.9');
    expect(clientOf(config, '192.0.2.10', '203.0.113.9')).toBe('203.0.113.9');
    expect(clientOf(config, '192.0.2.11', '203.0.113.9')).toBe('192.0.2.11');
    expect(clientOf(config, 'fd12:3456::1', '2001:db8::66, 2001:db8::9, fd00::2')).toBe('2001:db8::9');
    expect(clientOf(config, 'fe80::1', '2001:db8::9')).toBe('fe80::1');
    // a dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 addresses
    expect(clientOf(config, '::ffff:10.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
    // every hop a proxy: the furthest one is the client
    expect(clientOf(config, '10.0.0.1', '10.0.0.3, 10.0.0.2')).toBe('10.0.0.3');
  });

  test('hops and addresses together: at most that many proxies, each at a listed address', () => {
    const config = { hops: 2, addresses: ['10.0.0.0/8'] };
    expect(clientOf(config, '10.0.0.1', '203.0.113.9, 10.0.0.3, 10.0.0.2')).toBe('10.0.0.3');
    expect(clientOf(config, '10.0.0.1', '203.0.113.9, 10.0.0.2')).toBe('203.0.113.9');
    expect(clientOf(config, '10.0.0.1', '198.51.100.1, 203.0.113.9')).toBe('203.0.113.9');
    expect(clientOf(config, '203.0.113.1', '10.0.0.2')).toBe('203.0.113.1');
  });

  test('entries with ports are read as their address; one that is no address stops the walk at the last hop read', () => {
    expect(clientOf(true, '10.0.0.1', '203.0.113.9:4711')).toBe('203.0.113.9');
    expect(clientOf(true, '10.0.0.1', '[2001:db8::9]:443')).toBe('2001:db8::9');
    expect(clientOf(true, '10.0.0.1', '[2001:db8::9]')).toBe('2001:db8::9');
    expect(clientOf(true, '10.0.0.1', 'unknown')).toBe('10.0.0.1');
    expect(clientOf(true, '10.0.0.1', '203.0.113.9, ')).toBe('10.0.0.1');
    expect(clientOf({ hops: 2 }, '10.0.0.1', 'random-text, 10.0.0.2')).toBe('10.0.0.2');
    expect(clientOf(true, '10.0.0.1', '[10.0.0.5]')).toBe('10.0.0.1');
  });
});

describe('the protocol and host', () => {
  test('believed only from a trusted peer, as the outermost trusted proxy wrote them', () => {
    const headers = { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.com' };
    expect(resolve(true, '10.0.0.1', headers)).toEqual({ address: '203.0.113.9', proxies: 1, protocol: 'https', host: 'id.example.com' });
    expect(resolve({ addresses: ['10.0.0.0/8'] }, '203.0.113.1', headers)).toEqual({ address: '203.0.113.1', proxies: 0 });
    // one proxy: not the value a client put in front of the proxy's own
    expect(resolve(true, '10.0.0.1', { 'x-forwarded-proto': 'http, https', 'x-forwarded-host': 'evil.example, id.example.com' }))
      .toMatchObject({ protocol: 'https', host: 'id.example.com' });
    // two proxies that both append: the outer one's entry, which saw the client
    expect(resolve({ hops: 2 }, '10.0.0.1', { 'x-forwarded-for': '203.0.113.9, 10.0.0.2', 'x-forwarded-proto': 'https, http' }))
      .toMatchObject({ address: '203.0.113.9', protocol: 'https' });
    // two proxies, only the inner one writes: its single value
    expect(resolve({ hops: 2 }, '10.0.0.1', { 'x-forwarded-for': '203.0.113.9, 10.0.0.2', 'x-forwarded-proto': 'https' }))
      .toMatchObject({ protocol: 'https' });
    // a trusted peer that forwarded no address still vouches for the protocol it saw
    expect(resolve(true, '10.0.0.1', { 'x-forwarded-proto': 'HTTPS' })).toEqual({ address: '10.0.0.1', proxies: 0, protocol: 'https', host: undefined });
  });

  test('values that are no protocol or host are not believed', () => {
    expect(resolve(true, '10.0.0.1', { 'x-forwarded-proto': 'javascript', 'x-forwarded-host': 'a b/c' }))
      .toMatchObject({ protocol: undefined, host: undefined });
    expect(resolve(true, '10.0.0.1', { 'x-forwarded-host': '[2001:db8::1]:8443' })).toMatchObject({ host: '[2001:db8::1]:8443' });
    expect(resolve(true, '10.0.0.1', { 'x-forwarded-host': 'id.example.com:443' })).toMatchObject({ host: 'id.example.com:443' });
  });
});

describe('the setting', () => {
  test('TRUST_PROXY: true is one proxy, a number that many, a list the proxies\' addresses', () => {
    expect(proxyTrustFromEnvironment('true')).toBe(true);
    expect(proxyTrustFromEnvironment('TRUE')).toBe(true);
    expect(proxyTrustFromEnvironment('false')).toBe(false);
    expect(proxyTrustFromEnvironment('')).toBe(false);
    expect(proxyTrustFromEnvironment('0')).toBe(false);
    expect(proxyTrustFromEnvironment('2')).toEqual({ hops: 2 });
    expect(proxyTrustFromEnvironment('10.0.0.0/8, fd00::/8,192.0.2.1')).toEqual({ addresses: ['10.0.0.0/8', 'fd00::/8', '192.0.2.1'] });
    expect(proxyTrustFromEnvironment('yes')).toBeUndefined();
    expect(proxyTrustFromEnvironment('10.0.0.0/8,')).toBeUndefined();
  });

  test('address ranges', () => {
    expect(parseAddressRange('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseAddressRange('2001:db8::1')).toEqual({ address: '2001:db8::1', prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0.0/', '10.0.0/8', 'fe80::1%eth0', 'example.com', '10.0.0.0/8/8', '10.0.0.0/-1']) {
      expect({ bad, range: parseAddressRange(bad) }).toEqual({ bad, range: undefined });
    }
  });

  test('a range covering every address can never be safe', () => {
    expect(unsafeProxyTrust({ addresses: ['10.0.0.0/8', '0.0.0.0/0'] })).toMatch(/0\.0\.0\.0\/0 makes every address a trusted proxy/);
    expect(unsafeProxyTrust({ addresses: ['::/0'] })).toMatch(/::\/0/);
    expect(unsafeProxyTrust({ addresses: ['10.0.0.0/8'] })).toBeUndefined();
    expect(unsafeProxyTrust(true)).toBeUndefined();
  });
});
