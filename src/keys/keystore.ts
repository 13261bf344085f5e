import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, calculateJwkThumbprint, type JWK } from 'jose';
import { createPrivateFileIfAbsent, writePrivateFile } from './private-file.ts';
import {
  activate, describeKey, inSigningOrder, jwkOf, parseSigningKeyFile, publicJwkOf, retire, stage,
  SIGNING_ALGORITHMS, type KeyDescription, type StoredKey,
} from './signing-key-set.ts';

export { writePrivateFile };

/** Key material every instance of a deployment must share. */
export interface KeyMaterial {
  /**
   * private JWKs in signing order: the current RS256 and ES256 keys first
   * (oidc-provider signs with the first key of an algorithm), then the staged
   * (next) and the previous ones, which are published and accepted only
   */
  readonly signingKeys: { keys: JWK[] };
  /** each signing key's kid, algorithm and status, for `keys list` */
  readonly signingKeyList: readonly KeyDescription[];
  /** signs session and interaction cookies (newest first; older ones still verify) */
  readonly cookieKeys: string[];
  /** HMAC secret for interaction-form CSRF tokens */
  readonly csrfSecret: string;
  /** DPoP nonce secret (32 bytes, hex) */
  readonly dpopNonceSecret: string;
  /**
   * AES-256 key (32 bytes) that seals webhook signing secrets in the database,
   * so a dump of the database alone yields none. Its own file: a key added to
   * secrets.json by one instance could race another instance adding its own.
   */
  readonly webhookKey: Buffer;
  /**
   * AES-256 key (32 bytes) for the second factors: it seals TOTP secrets and
   * keys the HMAC of recovery codes, so a dump of the database alone yields
   * neither a usable TOTP secret nor a way to test guesses of recovery codes.
   */
  readonly mfaKey: Buffer;
}

export const SIGNING_FILE = 'signing-keys.json';
const SECRETS_FILE = 'secrets.json';
export const WEBHOOK_KEY_FILE = 'webhook-key.json';
export const MFA_KEY_FILE = 'mfa-key.json';

export async function generateSigningKey(alg: 'RS256' | 'ES256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) };
}

function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

const serialize = (keys: StoredKey[]) => `${JSON.stringify({ keys: inSigningOrder(keys) }, null, 2)}\n`;

function readSigningKeys(signingPath: string): StoredKey[] {
  return parseSigningKeyFile(JSON.parse(readFileSync(signingPath, 'utf8')), signingPath);
}

/** What a first start wrote: which file, and what it holds (never the content). */
export interface CreatedKeyFile { path: string; holds: 'signing keys' | 'secrets' | 'webhook key' | 'mfa key' }

/**
 * Reads the key material from keysDir, creating what is missing on first start
 * (files mode 0600, written atomically). Nothing here is ever logged; the
 * caller learns through `onCreated` which files this call wrote (not those
 * another instance starting at the same moment won the race for).
 */
export async function loadOrCreateKeys(keysDir: string, options: { onCreated?: (file: CreatedKeyFile) => void } = {}): Promise<KeyMaterial> {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const signingPath = join(keysDir, SIGNING_FILE);
  const secretsPath = join(keysDir, SECRETS_FILE);

  if (!existsSync(signingPath)) {
    const now = new Date().toISOString();
    const keys: StoredKey[] = [];
    for (const alg of SIGNING_ALGORITHMS) keys.push({ ...await generateSigningKey(alg), status: 'current', createdAt: now, activatedAt: now });
    if (createPrivateFileIfAbsent(signingPath, serialize(keys))) options.onCreated?.({ path: signingPath, holds: 'signing keys' });
  }
  if (!existsSync(secretsPath)) {
    const created = createPrivateFileIfAbsent(secretsPath, JSON.stringify({
      cookieKeys: [randomSecret()],
      csrfSecret: randomSecret(),
      dpopNonceSecret: randomBytes(32).toString('hex'),
    }, null, 2));
    if (created) options.onCreated?.({ path: secretsPath, holds: 'secrets' });
  }

  // each created on its own (also in a KEYS_DIR from before it existed): every instance links the same file
  const webhookKey = loadOrCreateKeyFile(join(keysDir, WEBHOOK_KEY_FILE), 'webhookKey', 'webhook key', options);
  const mfaKey = loadOrCreateKeyFile(join(keysDir, MFA_KEY_FILE), 'mfaKey', 'mfa key', options);

  const stored = inSigningOrder(readSigningKeys(signingPath));
  const secrets = JSON.parse(readFileSync(secretsPath, 'utf8'));
  return Object.freeze({
    signingKeys: { keys: stored.map(jwkOf) },
    signingKeyList: Object.freeze(stored.map(describeKey)),
    cookieKeys: secrets.cookieKeys,
    csrfSecret: secrets.csrfSecret,
    dpopNonceSecret: secrets.dpopNonceSecret,
    webhookKey,
    mfaKey,
  });
}

/** A 32-byte symmetric key in a file of its own, `{ "<field>": "<base64url>" }`, created when absent. */
function loadOrCreateKeyFile(path: string, field: string, holds: CreatedKeyFile['holds'], options: { onCreated?: (file: CreatedKeyFile) => void }): Buffer {
  if (!existsSync(path)) {
    const created = createPrivateFileIfAbsent(path, JSON.stringify({ [field]: randomBytes(32).toString('base64url') }, null, 2));
    if (created) options.onCreated?.({ path, holds });
  }
  const key = Buffer.from(JSON.parse(readFileSync(path, 'utf8'))[field] ?? '', 'base64url');
  if (key.length !== 32) throw new Error(`${path} does not hold a 32-byte ${field}`);
  return key;
}

/** Public parts only, for /jwks and for verifying our own tokens: every key, whatever its status. */
export function publicJwks(keys: KeyMaterial): { keys: JWK[] } {
  return { keys: keys.signingKeys.keys.map(publicJwkOf) };
}

/*
 * Staged rotation, on KEYS_DIR itself (every instance reads its keys from
 * there, or from a copy of it, at start; running servers are never changed):
 *
 *   1. stageSigningKeys     new RS256 and ES256 keys as next; restart every instance:
 *                           all then publish and accept them, none signs with them
 *   2. activateSigningKeys  the next keys become current; restart every instance:
 *                           each signs with the new keys once restarted, and the ones
 *                           not yet restarted accept them already (step 1)
 *   3. retireSigningKeys    once the tokens the previous keys signed have expired,
 *                           they are removed; restart to stop publishing them
 */
export interface RotationResult {
  /** the keys this step changed */
  changed: KeyDescription[];
  /** every key in the file afterwards */
  keys: KeyDescription[];
}

function signingFileOf(keysDir: string): string {
  const signingPath = join(keysDir, SIGNING_FILE);
  if (!existsSync(signingPath)) throw new Error(`${signingPath} does not exist: start the server once first`);
  return signingPath;
}

function save(signingPath: string, keys: StoredKey[], changed: StoredKey[]): RotationResult {
  writePrivateFile(signingPath, serialize(keys));
  return { changed: changed.map(describeKey), keys: inSigningOrder(keys).map(describeKey) };
}

/** Step 1: new keys, published and accepted once instances restart, not used to sign. */
export async function stageSigningKeys(keysDir: string, options: { now?: number } = {}): Promise<RotationResult> {
  const signingPath = signingFileOf(keysDir);
  const keys = readSigningKeys(signingPath);
  const added = [];
  for (const alg of SIGNING_ALGORITHMS) added.push(await generateSigningKey(alg));
  const updated = stage(keys, added, options.now ?? Date.now());
  return save(signingPath, updated, updated.filter((k) => k.status === 'next'));
}

/**
 * Step 2: the staged keys sign; the current ones stay published and accepted
 * for `retentionSeconds` (the longest lifetime of a token signed with them).
 */
export function activateSigningKeys(keysDir: string, options: { retentionSeconds: number; now?: number }): RotationResult {
  const signingPath = signingFileOf(keysDir);
  const keys = readSigningKeys(signingPath);
  const staged = new Set(keys.filter((k) => k.status === 'next').map((k) => k.kid));
  const updated = activate(keys, options.now ?? Date.now(), options.retentionSeconds);
  return save(signingPath, updated, updated.filter((k) => staged.has(k.kid)));
}

/** Step 3: removes the previous keys whose tokens have all expired (every previous key with `force`). */
export function retireSigningKeys(keysDir: string, options: { now?: number; force?: boolean } = {}): RotationResult {
  const signingPath = signingFileOf(keysDir);
  const { kept, retired } = retire(readSigningKeys(signingPath), options.now ?? Date.now(), options);
  if (!retired.length) return { changed: [], keys: inSigningOrder(kept).map(describeKey) };
  return save(signingPath, kept, retired);
}

/** The keys in KEYS_DIR with their status, as the next start will load them. */
export function listSigningKeys(keysDir: string): KeyDescription[] {
  return inSigningOrder(readSigningKeys(signingFileOf(keysDir))).map(describeKey);
}
