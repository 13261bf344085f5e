import { describe, test, expect } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { loadOrCreateKeys, rotateSigningKeys } from '../../src/keys/index.ts';
import { startTestServer } from '../support/server.ts';

describe('keys rotate', () => {
  test('new keys go first, the previous generation stays, older ones are retired', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tessera-rotate-')), 'keys');
    const original = (await loadOrCreateKeys(dir)).signingKeys.keys.map((k) => k.kid);
    const first = await rotateSigningKeys(dir);
    expect(first.retired).toEqual([]);
    const afterFirst = (await loadOrCreateKeys(dir)).signingKeys.keys.map((k) => k.kid);
    expect(afterFirst).toEqual([...first.added.map((k) => k.kid), ...original]);

    const second = await rotateSigningKeys(dir);
    expect(second.retired.map((k) => k.kid).sort()).toEqual([...original].sort());
    const afterSecond = (await loadOrCreateKeys(dir)).signingKeys.keys;
    expect(afterSecond.map((k) => k.kid)).toEqual([...second.added, ...first.added].map((k) => k.kid));
    expect(afterSecond.every((k) => k.d)).toBe(true);
  });

  test('after a restart the server signs with the new key and still publishes the old one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-rotate-server-'));
    try {
      let server = await startTestServer({ dir, database: 'file' });
      await server.services.resources.create({ identifier: 'https://api.rotate.test', scopes: ['read'] });
      const client = await server.createClient({ name: 'svc', grantTypes: ['client_credentials'] });
      const token = async () => {
        const res = await fetch(`${server.url}/token`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://api.rotate.test', scope: 'read' }),
        });
        return (await res.json() as { access_token: string }).access_token;
      };
      const before = await token();
      const issuer = server.issuer;
      const port = Number(new URL(server.url).port);
      await server.stop({ keep: true });

      const { added } = await rotateSigningKeys(join(dir, 'keys'));
      server = await startTestServer({ dir, database: 'file', port, config: { issuer } });
      try {
        const after = await token();
        expect(decodeProtectedHeader(after).kid).toBe(added.find((k) => k.alg === 'ES256')!.kid);
        const jwks = createLocalJWKSet(await (await fetch(`${server.url}/jwks`)).json() as never);
        await expect(jwtVerify(before, jwks, { issuer })).resolves.toBeTruthy();
        await expect(jwtVerify(after, jwks, { issuer })).resolves.toBeTruthy();
      } finally {
        await server.stop({ keep: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
