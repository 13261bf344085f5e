// A WebAuthn authenticator in software (ES256, attestation "none"), for tests
// of the passkey service without a browser: it answers the options the server
// hands out the way a browser and an authenticator would (clientDataJSON,
// authenticator data, CBOR attestation object, DER signature), and lets a
// test bend what a real one would not (another origin, no UV flag, an old
// counter, another user handle). The browser tests use Chromium's virtual
// authenticator instead.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

// ---- the little CBOR (RFC 8949) that WebAuthn needs: unsigned and negative integers, bytes, text, maps ----

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>;

function head(major: number, value: number): Buffer {
  if (value < 24) return Buffer.from([(major << 5) | value]);
  if (value < 0x100) return Buffer.from([(major << 5) | 24, value]);
  if (value < 0x10000) { const b = Buffer.alloc(3); b[0] = (major << 5) | 25; b.writeUInt16BE(value, 1); return b; }
  const b = Buffer.alloc(5); b[0] = (major << 5) | 26; b.writeUInt32BE(value, 1); return b;
}

export function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') { const text = Buffer.from(value, 'utf8'); return Buffer.concat([head(3, text.length), text]); }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();
const b64url = (data: Uint8Array) => Buffer.from(data).toString('base64url');

const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;

export interface Bend {
  origin?: string;
  rpId?: string;
  /** user verified (default true) */
  uv?: boolean;
  /** backup eligible and backed up: a synced passkey */
  synced?: boolean;
  /** the counter to report (default: one more than the last) */
  counter?: number;
  /** the user handle to report in an assertion (default: the one registered) */
  userHandle?: string | null;
  /** type in clientDataJSON */
  type?: string;
}

export interface SoftwareCredential {
  id: string;
  privateKey: KeyObject;
  /** the private key as PKCS#8 DER */
  pkcs8: Buffer;
  /** the private scalar */
  d: Buffer;
  userHandle: string;
  rpId: string;
  counter: number;
}

/** A software authenticator for one origin (the issuer's). */
export function softwareAuthenticator(origin: string) {
  const defaultRpId = new URL(origin).hostname;

  const clientData = (type: string, challenge: string, bend: Bend) =>
    Buffer.from(JSON.stringify({ type: bend.type ?? type, challenge, origin: bend.origin ?? origin, crossOrigin: false }));

  const flagsOf = (bend: Bend, extra = 0) =>
    FLAG.UP | (bend.uv === false ? 0 : FLAG.UV) | (bend.synced ? FLAG.BE | FLAG.BS : 0) | extra;

  const counterBytes = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };

  return {
    /** navigator.credentials.create(): the credential, and the JSON the page would post. */
    create(options: Record<string, unknown>, bend: Bend = {}): { credential: SoftwareCredential; response: Record<string, unknown> } {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      const id = randomBytes(32);
      const rpId = bend.rpId ?? (options.rp as { id: string }).id ?? defaultRpId;
      const userHandle = (options.user as { id: string }).id;
      const coseKey = cbor(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
      const counter = bend.counter ?? 0;
      const authData = Buffer.concat([
        sha256(rpId), Buffer.from([flagsOf(bend, FLAG.AT)]), counterBytes(counter),
        Buffer.alloc(16), Buffer.from([id.length >> 8, id.length & 0xff]), id, coseKey,
      ]);
      const attestationObject = cbor(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
      const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
      return {
        credential: { id: b64url(id), privateKey, pkcs8, d: Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url'), userHandle, rpId, counter },
        response: {
          id: b64url(id), rawId: b64url(id), type: 'public-key', clientExtensionResults: {}, authenticatorAttachment: 'platform',
          response: {
            clientDataJSON: b64url(clientData('webauthn.create', options.challenge as string, bend)),
            attestationObject: b64url(attestationObject),
            transports: ['internal'],
          },
        },
      };
    },

    /** navigator.credentials.get() with this credential: the JSON the page would post. */
    get(credential: SoftwareCredential, options: Record<string, unknown>, bend: Bend = {}): Record<string, unknown> {
      const counter = bend.counter ?? credential.counter + 1;
      if (bend.counter === undefined) credential.counter = counter;
      const authData = Buffer.concat([sha256(bend.rpId ?? credential.rpId), Buffer.from([flagsOf(bend)]), counterBytes(counter)]);
      const data = clientData('webauthn.get', options.challenge as string, bend);
      const signature = sign('sha256', Buffer.concat([authData, sha256(data)]), credential.privateKey);
      const userHandle = bend.userHandle === undefined ? credential.userHandle : bend.userHandle;
      return {
        id: credential.id, rawId: credential.id, type: 'public-key', clientExtensionResults: {}, authenticatorAttachment: 'platform',
        response: {
          clientDataJSON: b64url(data),
          authenticatorData: b64url(authData),
          signature: b64url(signature),
          ...(userHandle === null ? {} : { userHandle }),
        },
      };
    },
  };
}
