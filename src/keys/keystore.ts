import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, calculateJwkThumbprint, type JWK } from 'jose';

/** Key material every instance of a deployment must share. */
export interface KeyMaterial {
  /** private JWKs: RS256 (ID tokens) and ES256 (JWT access tokens), newest first */
  readonly signingKeys: { keys: JWK[] };
  /** signs session and interaction cookies (newest first; older ones still verify) */
  readonly cookieKeys: string[];
  /** HMAC secret for interaction-form CSRF tokens */
  readonly csrfSecret: string;
  /** DPoP nonce secret (32 bytes, hex) */
  readonly dpopNonceSecret: string;
}

const SIGNING_FILE = 'signing-keys.json';
const SECRETS_FILE = 'secrets.json';

export function writePrivateFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600); // the mode above is ignored when the file already existed
}

export async function generateSigningKey(alg: 'RS256' | 'ES256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) };
}

function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Reads the key material from keysDir, creating what is missing on first start
 * (files mode 0600). Nothing here is ever logged.
 */
export async function loadOrCreateKeys(keysDir: string): Promise<KeyMaterial> {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const signingPath = join(keysDir, SIGNING_FILE);
  const secretsPath = join(keysDir, SECRETS_FILE);

  if (!existsSync(signingPath)) {
    const keys = [await generateSigningKey('RS256'), await generateSigningKey('ES256')];
    writePrivateFile(signingPath, JSON.stringify({ keys }, null, 2));
  }
  if (!existsSync(secretsPath)) {
    writePrivateFile(secretsPath, JSON.stringify({
      cookieKeys: [randomSecret()],
      csrfSecret: randomSecret(),
      dpopNonceSecret: randomBytes(32).toString('hex'),
    }, null, 2));
  }

  const signingKeys = JSON.parse(readFileSync(signingPath, 'utf8')) as { keys: JWK[] };
  const secrets = JSON.parse(readFileSync(secretsPath, 'utf8'));
  for (const alg of ['RS256', 'ES256']) {
    if (!signingKeys.keys.some((k) => k.alg === alg && k.d)) {
      throw new Error(`${signingPath} has no private ${alg} key`);
    }
  }
  return Object.freeze({
    signingKeys,
    cookieKeys: secrets.cookieKeys,
    csrfSecret: secrets.csrfSecret,
    dpopNonceSecret: secrets.dpopNonceSecret,
  });
}

/** Public parts only, for /jwks and for verifying our own tokens. */
export function publicJwks(keys: KeyMaterial): { keys: JWK[] } {
  return {
    keys: keys.signingKeys.keys.map(({ d, p, q, dp, dq, qi, ...publicPart }) => publicPart),
  };
}

/**
 * `tessera keys rotate`: a new RS256 and ES256 key go first (oidc-provider signs
 * with the first key of an algorithm); the previous ones stay published so
 * tokens they signed still verify until they expire; older ones are retired.
 * Running servers pick the new keys up when they restart.
 */
export async function rotateSigningKeys(keysDir: string, options: { keepPrevious?: number } = {}): Promise<{ added: JWK[]; retired: JWK[] }> {
  const keepPrevious = options.keepPrevious ?? 1;
  const signingPath = join(keysDir, SIGNING_FILE);
  if (!existsSync(signingPath)) throw new Error(`${signingPath} does not exist: start the server once first`);
  const current = (JSON.parse(readFileSync(signingPath, 'utf8')) as { keys: JWK[] }).keys;
  const added = [await generateSigningKey('RS256'), await generateSigningKey('ES256')];
  const kept: JWK[] = [];
  const retired: JWK[] = [];
  for (const key of current) {
    const sameAlgKept = kept.filter((k) => k.alg === key.alg).length;
    (sameAlgKept < keepPrevious ? kept : retired).push(key);
  }
  writePrivateFile(signingPath, JSON.stringify({ keys: [...added, ...kept] }, null, 2));
  const publicPart = ({ kid, alg, use, kty }: JWK) => ({ kid, alg, use, kty });
  return { added: added.map(publicPart), retired: retired.map(publicPart) };
}
