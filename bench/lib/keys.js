// Shared signing keys for every system under test, so that no target pays for a
// different key type or size than another (ES256 for access tokens, RS256 for ID tokens).
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';

async function privateJwk(alg, kid) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  return { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
}

export async function generateBenchJwks() {
  return { keys: [await privateJwk('ES256', 'bench-es256'), await privateJwk('RS256', 'bench-rs256')] };
}

/** Loads the private JWKS at `path`, creating it (mode 0600) when it does not exist yet. */
export async function ensureBenchJwks(path) {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  const jwks = await generateBenchJwks();
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(jwks, null, 2), { mode: 0o600 });
  await chmod(path, 0o600);
  return jwks;
}

export function publicJwks(jwks) {
  return {
    keys: jwks.keys.map(({ d, p, q, dp, dq, qi, ...pub }) => pub),
  };
}
