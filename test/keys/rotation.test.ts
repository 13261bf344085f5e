import { describe, test, expect } from '@jest/globals';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  activateSigningKeys, generateSigningKey, listSigningKeys, loadOrCreateKeys, publicJwks, retireSigningKeys, stageSigningKeys,
} from '../../src/keys/index.ts';

const HOUR = 3600;
const keysDir = () => join(mkdtempSync(join(tmpdir(), 'tessera-rotate-')), 'keys');
const kidsByStatus = (dir: string, status: string) => listSigningKeys(dir).filter((k) => k.status === status).map((k) => k.kid);
/** The kid oidc-provider signs with for `alg`: the first key of that algorithm in the configured set. */
const signingKid = async (dir: string, alg: string) => (await loadOrCreateKeys(dir)).signingKeys.keys.find((k) => k.alg === alg)!.kid;

describe('staged key rotation on KEYS_DIR', () => {
  test('stage: the new keys are published, the current ones still sign', async () => {
    const dir = keysDir();
    const original = await loadOrCreateKeys(dir);
    const es256 = original.signingKeys.keys.find((k) => k.alg === 'ES256')!.kid;

    const staged = await stageSigningKeys(dir);
    expect(staged.changed.map((k) => [k.alg, k.status]).sort()).toEqual([['ES256', 'next'], ['RS256', 'next']]);

    const loaded = await loadOrCreateKeys(dir);
    expect(await signingKid(dir, 'ES256')).toBe(es256);
    const published = publicJwks(loaded).keys.map((k) => k.kid);
    for (const k of staged.changed) expect(published).toContain(k.kid);
    expect(loaded.signingKeyList.map((k) => k.status)).toEqual(['current', 'current', 'next', 'next']);
    // what the server loads and publishes carries no life members and (published) no private part
    for (const jwk of loaded.signingKeys.keys) expect(jwk).not.toHaveProperty('status');
    for (const jwk of publicJwks(loaded).keys) expect(jwk).not.toHaveProperty('d');

    // a second stage before the activation is refused: one staged generation at a time
    await expect(stageSigningKeys(dir)).rejects.toThrow(/already staged.*keys rotate --activate/);
  });

  test('activate: the staged keys sign, the old ones become previous until the longest token lifetime has passed', async () => {
    const dir = keysDir();
    const before = (await loadOrCreateKeys(dir)).signingKeys.keys.map((k) => k.kid);
    expect(() => activateSigningKeys(dir, { retentionSeconds: HOUR })).toThrow(/no keys are staged/);
    const staged = (await stageSigningKeys(dir)).changed;

    const now = Date.parse('2030-01-01T00:00:00Z');
    const activated = activateSigningKeys(dir, { retentionSeconds: HOUR, now });
    expect(activated.changed.map((k) => k.kid).sort()).toEqual(staged.map((k) => k.kid).sort());
    expect(await signingKid(dir, 'ES256')).toBe(staged.find((k) => k.alg === 'ES256')!.kid);
    expect(await signingKid(dir, 'RS256')).toBe(staged.find((k) => k.alg === 'RS256')!.kid);
    expect(kidsByStatus(dir, 'previous').sort()).toEqual([...before].sort());
    for (const key of listSigningKeys(dir).filter((k) => k.status === 'previous')) {
      expect(key.retire_after).toBe('2030-01-01T01:00:00.000Z');
    }
    // still published (and so accepted by every verifier, which use this set)
    const published = publicJwks(await loadOrCreateKeys(dir)).keys.map((k) => k.kid);
    for (const kid of before) expect(published).toContain(kid);

    // retire: nothing before retireAfter, the previous keys after it
    expect(retireSigningKeys(dir, { now: now + HOUR * 1000 - 1 }).changed).toEqual([]);
    expect(kidsByStatus(dir, 'previous')).toHaveLength(2);
    const retired = retireSigningKeys(dir, { now: now + HOUR * 1000 });
    expect(retired.changed.map((k) => k.kid).sort()).toEqual([...before].sort());
    const after = publicJwks(await loadOrCreateKeys(dir)).keys.map((k) => k.kid);
    for (const kid of before) expect(after).not.toContain(kid);
  });

  test('retire --force removes the previous keys at once (a key that must not be trusted any more)', async () => {
    const dir = keysDir();
    await loadOrCreateKeys(dir);
    await stageSigningKeys(dir);
    activateSigningKeys(dir, { retentionSeconds: HOUR });
    expect(retireSigningKeys(dir).changed).toEqual([]);
    expect(retireSigningKeys(dir, { force: true }).changed).toHaveLength(2);
    expect(listSigningKeys(dir).map((k) => k.status)).toEqual(['current', 'current']);
  });

  test('a key file written before staged rotation keeps working: the first key of an algorithm signs', async () => {
    const dir = keysDir();
    mkdirSync(dir, { recursive: true });
    const [newRs, newEs, oldRs, oldEs] = await Promise.all([
      generateSigningKey('RS256'), generateSigningKey('ES256'), generateSigningKey('RS256'), generateSigningKey('ES256'),
    ]);
    // exactly what the earlier `keys rotate` wrote: new keys first, the previous generation after
    writeFileSync(join(dir, 'signing-keys.json'), JSON.stringify({ keys: [newRs, newEs, oldRs, oldEs] }, null, 2), { mode: 0o600 });

    const loaded = await loadOrCreateKeys(dir);
    expect(await signingKid(dir, 'RS256')).toBe(newRs.kid);
    expect(await signingKid(dir, 'ES256')).toBe(newEs.kid);
    expect(loaded.signingKeyList.map((k) => [k.kid, k.status])).toEqual([
      [newRs.kid, 'current'], [newEs.kid, 'current'], [oldRs.kid, 'previous'], [oldEs.kid, 'previous'],
    ]);
    // when the old previous keys stopped signing is unknown: kept until an activation dates them
    expect(retireSigningKeys(dir).changed).toEqual([]);

    await stageSigningKeys(dir);
    const now = Date.now();
    activateSigningKeys(dir, { retentionSeconds: HOUR, now });
    const previous = listSigningKeys(dir).filter((k) => k.status === 'previous');
    expect(previous.map((k) => k.kid).sort()).toEqual([newRs.kid, newEs.kid, oldRs.kid, oldEs.kid].sort());
    expect(previous.every((k) => k.retire_after === new Date(now + HOUR * 1000).toISOString())).toBe(true);
  });

  test('the file is written current keys first, so that even an older Tessera signs with the current ones', async () => {
    const dir = keysDir();
    await loadOrCreateKeys(dir);
    await stageSigningKeys(dir);
    const staged = kidsByStatus(dir, 'next');
    activateSigningKeys(dir, { retentionSeconds: HOUR });
    const raw = JSON.parse(readFileSync(join(dir, 'signing-keys.json'), 'utf8')) as { keys: { kid: string; alg: string; status: string }[] };
    for (const alg of ['RS256', 'ES256']) expect(staged).toContain(raw.keys.find((k) => k.alg === alg)!.kid);
    expect(raw.keys.map((k) => k.status)).toEqual(['current', 'current', 'previous', 'previous']);
  });

  test('a damaged key file is refused with the key and what is wrong', async () => {
    const dir = keysDir();
    await loadOrCreateKeys(dir);
    const path = join(dir, 'signing-keys.json');
    const file = JSON.parse(readFileSync(path, 'utf8')) as { keys: Record<string, unknown>[] };
    const write = (keys: unknown[]) => writeFileSync(path, JSON.stringify({ keys }));

    write([{ ...file.keys[0], status: 'signing' }, file.keys[1]]);
    await expect(loadOrCreateKeys(dir)).rejects.toThrow(new RegExp(`key ${file.keys[0].kid} has status "signing"`));
    write([{ ...file.keys[0], status: 'previous' }, file.keys[1]]);
    await expect(loadOrCreateKeys(dir)).rejects.toThrow(/expected exactly one current RS256 key, found 0/);
    write([file.keys[0], { ...file.keys[1], status: undefined }]);
    await expect(loadOrCreateKeys(dir)).rejects.toThrow(new RegExp(`key ${file.keys[1].kid} has no "status"`));
    const { d: _d, ...publicOnly } = file.keys[1];
    write([file.keys[0], publicOnly]);
    await expect(loadOrCreateKeys(dir)).rejects.toThrow(new RegExp(`key ${file.keys[1].kid} has no private part`));
  });
});
