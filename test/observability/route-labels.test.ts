// The route label of a path is one of a fixed set: a template, or "other".
import { describe, expect, test } from '@jest/globals';
import { methodLabelOf, routeLabelOf, statusLabelOf } from '../../src/observability/route-labels.ts';

describe('route labels', () => {
  test.each([
    ['/token', '/token'],
    ['/token/', '/token'],
    ['/TOKEN', '/token'],
    ['/token/introspection', '/token/introspection'],
    ['/interaction/Xy12abc', '/interaction/:uid'],
    ['/interaction/Xy12abc/login', '/interaction/:uid/login'],
    ['/interaction/Xy12abc/passkey/options', '/interaction/:uid/passkey/options'],
    ['/interaction/Xy12abc/whatever', 'other'],
    ['/interaction/', 'other'],
    ['/account/reset/secret-token-value', '/account/reset/:token'],
    ['/auth/some-uid', '/auth/:uid'],
    ['/device', '/device'],
    ['/device/auth', '/device/auth'],
    ['/device/some-uid', '/device/:uid'],
    ['/admin/v1/users/123', '/admin/v1/*'],
    ['/metrics', '/metrics'],
    ['/no/such/path', 'other'],
    ['/.well-known/openid-configuration', '/.well-known/openid-configuration'],
  ])('%s → %s', (path, label) => {
    expect(routeLabelOf(path)).toBe(label);
  });

  test('no label carries what follows a template prefix (ids, tokens)', () => {
    for (const path of ['/account/reset/abc', '/auth/abc', '/device/abc', '/interaction/abc/login', '/admin/v1/clients/abc']) {
      expect(routeLabelOf(path)).not.toContain('abc');
    }
  });

  test('methods and statuses outside the standard ones are "other"', () => {
    expect(methodLabelOf('POST')).toBe('POST');
    expect(methodLabelOf('BREW')).toBe('other');
    expect(methodLabelOf(undefined)).toBe('other');
    expect(statusLabelOf(200)).toBe('200');
    expect(statusLabelOf(999)).toBe('other');
  });
});
