import type { JWK } from 'jose';

/*
 * KEYS_DIR/signing-keys.json is a JWK set whose keys carry, beside their JWK
 * members, where they are in their life (RFC 7517 lets a JWK hold members a
 * reader does not know; none of these is ever published):
 *
 *   next      published in /jwks and accepted by every verifier, never used to
 *             sign: staged, so that every instance knows it before any signs with it
 *   current   signs (one per algorithm), published, accepted
 *   previous  no longer signs; published and accepted until `retireAfter`, when
 *             every token it signed has expired; `keys retire` removes it then
 *
 * Timestamps (ISO 8601): createdAt, activatedAt (became current),
 * deactivatedAt (became previous), retireAfter.
 *
 * A file written before staged rotation has keys without a status: per
 * algorithm the first one signed (oidc-provider signs with the first key of an
 * algorithm), so it reads as current and the others as previous, with no
 * retireAfter. The file is written current first, then next, then previous,
 * so that even an older Tessera reading it signs with the current keys.
 */

export type KeyStatus = 'next' | 'current' | 'previous';
const STATUSES: readonly KeyStatus[] = ['current', 'next', 'previous'];
export const SIGNING_ALGORITHMS = ['RS256', 'ES256'] as const;

export interface KeyLife {
  status: KeyStatus;
  createdAt?: string;
  activatedAt?: string;
  deactivatedAt?: string;
  retireAfter?: string;
}

export type StoredKey = JWK & KeyLife;

const LIFE_MEMBERS = ['status', 'createdAt', 'activatedAt', 'deactivatedAt', 'retireAfter'] as const;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'] as const;

export class SigningKeyFileError extends Error {}

/** The JWK alone (no life members): what oidc-provider gets. */
export function jwkOf(key: StoredKey): JWK {
  const jwk: Record<string, unknown> = { ...key };
  for (const member of LIFE_MEMBERS) delete jwk[member];
  return jwk as JWK;
}

/** Public members only: what /jwks and the verifiers get. */
export function publicJwkOf(key: JWK): JWK {
  const jwk: Record<string, unknown> = { ...key };
  for (const member of [...LIFE_MEMBERS, ...PRIVATE_MEMBERS]) delete jwk[member];
  return jwk as JWK;
}

/** What `keys list` shows of a key: never a private member. */
export function describeKey(key: StoredKey) {
  return {
    kid: key.kid!, kty: key.kty!, alg: key.alg!, use: key.use ?? 'sig', status: key.status,
    ...(key.createdAt ? { created_at: key.createdAt } : {}),
    ...(key.activatedAt ? { activated_at: key.activatedAt } : {}),
    ...(key.retireAfter ? { retire_after: key.retireAfter } : {}),
  };
}
export type KeyDescription = ReturnType<typeof describeKey>;

/** Current keys first, then next, then previous (stable within a status). */
export function inSigningOrder(keys: readonly StoredKey[]): StoredKey[] {
  return [...keys].sort((a, b) => STATUSES.indexOf(a.status) - STATUSES.indexOf(b.status));
}

/** Reads the parsed file, either format; throws a SigningKeyFileError naming the key and what is wrong. */
export function parseSigningKeyFile(content: unknown, file: string): StoredKey[] {
  const keys = (content as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.some((k) => k === null || typeof k !== 'object' || typeof k.kid !== 'string' || typeof k.alg !== 'string')) {
    throw new SigningKeyFileError(`${file}: expected {"keys": [JWK, ...]} with a kid and an alg on every key`);
  }
  const withStatus = keys.filter((k) => k.status !== undefined).length;
  let stored: StoredKey[];
  if (withStatus === 0) {
    // the format before staged rotation: the first key of an algorithm signed
    const seen = new Set<string>();
    stored = (keys as JWK[]).map((k) => {
      const status: KeyStatus = seen.has(k.alg!) ? 'previous' : 'current';
      seen.add(k.alg!);
      return { ...k, status };
    });
  } else if (withStatus !== keys.length) {
    const bare = (keys as JWK[]).find((k) => (k as StoredKey).status === undefined)!;
    throw new SigningKeyFileError(`${file}: key ${bare.kid} has no "status" while others have one (next, current or previous)`);
  } else {
    stored = keys as StoredKey[];
  }
  validate(stored, file);
  return stored;
}

function validate(keys: StoredKey[], file: string): void {
  const kids = new Set<string>();
  for (const key of keys) {
    if (!STATUSES.includes(key.status)) {
      throw new SigningKeyFileError(`${file}: key ${key.kid} has status ${JSON.stringify(key.status)} (expected next, current or previous)`);
    }
    if (kids.has(key.kid!)) throw new SigningKeyFileError(`${file}: kid ${key.kid} appears twice`);
    kids.add(key.kid!);
    if (!key.d) throw new SigningKeyFileError(`${file}: key ${key.kid} has no private part`);
    for (const member of ['createdAt', 'activatedAt', 'deactivatedAt', 'retireAfter'] as const) {
      if (key[member] !== undefined && Number.isNaN(Date.parse(key[member]!))) {
        throw new SigningKeyFileError(`${file}: key ${key.kid} has an invalid ${member} ${JSON.stringify(key[member])}`);
      }
    }
  }
  for (const alg of SIGNING_ALGORITHMS) {
    const current = keys.filter((k) => k.alg === alg && k.status === 'current');
    if (current.length !== 1) {
      throw new SigningKeyFileError(`${file}: expected exactly one current ${alg} key, found ${current.length}`);
    }
    if (keys.filter((k) => k.alg === alg && k.status === 'next').length > 1) {
      throw new SigningKeyFileError(`${file}: more than one next ${alg} key`);
    }
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Adds `added` as next keys; refuses when keys are already staged (activate them first). */
export function stage(keys: readonly StoredKey[], added: readonly JWK[], now: number): StoredKey[] {
  const staged = keys.filter((k) => k.status === 'next');
  if (staged.length) {
    throw new SigningKeyFileError(`keys are already staged (${staged.map((k) => `${k.alg} ${k.kid}`).join(', ')}): restart every instance, then run "tessera keys rotate --activate"`);
  }
  return inSigningOrder([...keys, ...added.map((jwk): StoredKey => ({ ...jwk, status: 'next', createdAt: iso(now) }))]);
}

/**
 * The next keys sign from now on; the current ones become previous, accepted
 * for `retentionSeconds` more (the longest lifetime of a token they signed).
 */
export function activate(keys: readonly StoredKey[], now: number, retentionSeconds: number): StoredKey[] {
  const staged = keys.filter((k) => k.status === 'next');
  if (!staged.length) throw new SigningKeyFileError('no keys are staged: run "tessera keys rotate --stage" first');
  const stagedAlgs = new Set(staged.map((k) => k.alg));
  const updated = keys.map((key): StoredKey => {
    if (key.status === 'next') return { ...key, status: 'current', activatedAt: iso(now) };
    if (key.status === 'current' && stagedAlgs.has(key.alg)) {
      return { ...key, status: 'previous', deactivatedAt: iso(now), retireAfter: iso(now + retentionSeconds * 1000) };
    }
    // a previous key from a file of the older format: its tokens are at most this old
    if (key.status === 'previous' && !key.retireAfter) return { ...key, retireAfter: iso(now + retentionSeconds * 1000) };
    return key;
  });
  return inSigningOrder(updated);
}

/**
 * Removes the previous keys whose retireAfter has passed (all previous keys
 * with `force`: for a key that must stop being trusted now). A previous key
 * with no retireAfter (older file format) is kept unless forced: when it
 * stopped signing is unknown.
 */
export function retire(keys: readonly StoredKey[], now: number, options: { force?: boolean } = {}): { kept: StoredKey[]; retired: StoredKey[] } {
  const due = (k: StoredKey) => k.status === 'previous' && (options.force || (k.retireAfter !== undefined && Date.parse(k.retireAfter) <= now));
  return { kept: keys.filter((k) => !due(k)), retired: keys.filter(due) };
}
