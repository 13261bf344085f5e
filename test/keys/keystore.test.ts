import { describe, test, expect } from '@jest/globals';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateKeys, publicJwks } from '../../src/keys/index.ts';

describe('keystore', () => {
  test('first start writes RS256 + ES256 keys and secrets, mode 0600; later starts reuse them', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tessera-keys-')), 'keys');
    const first = await loadOrCreateKeys(dir);
    expect(first.signingKeys.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const file of ['signing-keys.json', 'secrets.json']) {
      expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
    }
    const second = await loadOrCreateKeys(dir);
    expect(second.signingKeys).toEqual(first.signingKeys);
    expect(second.cookieKeys).toEqual(first.cookieKeys);
  });

  test('the published set has no private parts', async () => {
    const keys = await loadOrCreateKeys(join(mkdtempSync(join(tmpdir(), 'tessera-keys-')), 'keys'));
    for (const jwk of publicJwks(keys).keys) {
      for (const privatePart of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(jwk).not.toHaveProperty(privatePart);
    }
  });
});
