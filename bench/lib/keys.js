// Shared signing keys for every system under test, so that no target pays for a
// different key type or size than another (ES256 for access tokens, RS256 for ID tokens).
// Made and written the way Tessera makes and writes its own (src/keys).
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateSigningKey, publicJwks as publicJwksOf, writePrivateFile } from '../../src/keys/index.ts';

export async function generateBenchJwks() {
  return { keys: [await generateSigningKey('ES256'), await generateSigningKey('RS256')] };
}

/** Loads the private JWKS at `path`, creating it (mode 0600, written atomically) when it does not exist yet. */
export async function ensureBenchJwks(path) {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  const jwks = await generateBenchJwks();
  await mkdir(dirname(path), { recursive: true });
  writePrivateFile(path, JSON.stringify(jwks, null, 2));
  return jwks;
}

/** The public members of a private JWKS (what a verifier gets). */
export const publicJwks = (jwks) => publicJwksOf({ signingKeys: jwks });
