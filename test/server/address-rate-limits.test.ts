// Which per-address limit a request counts toward (src/server/rate-limits.ts):
// the device flow's user-code submissions have their own, stricter rule.
import { describe, expect, test } from '@jest/globals';
import { addressRuleOf } from '../../src/server/rate-limits.ts';

describe('per-address rules', () => {
  test.each([
    ['POST', '/device', 'deviceCodePerIp'],
    ['POST', '/DEVICE/', 'deviceCodePerIp'],
    ['GET', '/device', 'pagesPerIp'],
    ['GET', '/device/some-uid', 'pagesPerIp'],
    ['POST', '/device/auth', 'tokenPerIp'],
    ['POST', '/token', 'tokenPerIp'],
    ['GET', '/auth', 'authorizationPerIp'],
    ['POST', '/interaction/x/login', 'pagesPerIp'],
    ['GET', '/devices', undefined],
    ['GET', '/.well-known/openid-configuration', undefined],
  ])('%s %s → %s', (method, path, rule) => {
    expect(addressRuleOf(path, method)).toBe(rule);
  });
});
