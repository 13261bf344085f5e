import { createPublicKey, X509Certificate, type JsonWebKeyInput, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { errors, type Configuration } from 'oidc-provider';
import { addressKind } from '../audit/index.ts';
import { isLoopbackHost } from '../http/index.ts';
import { urlTheServerMayCall } from './backchannel-logout.ts';

/*
 * Key-based clients (private_key_jwt, signed request objects): a client
 * registers its public keys, either as a JWK Set (`jwks`, stored with the
 * client) or as a URL the provider fetches (`jwks_uri`). Both are admin input
 * that the provider later trusts to authenticate a client, so they are judged
 * here before they are stored: public asymmetric keys only, few and small, and
 * a URL the server may fetch without reaching what only it can reach.
 */

/** More keys than a rollover needs (current, next, previous) make every verification try them all. */
export const MAX_CLIENT_KEYS = 10;
/** A JWK Set of MAX_CLIENT_KEYS 4096-bit RSA keys with a certificate each fits. */
export const MAX_JWKS_BYTES = 32 * 1024;
/** What the provider reads of a jwks_uri answer (its default is no limit). */
export const JWKS_URI_BODY_LIMIT_BYTES = 64 * 1024;
/** How far ahead of now a client assertion's `exp` may lie (RFC 7523 §3 leaves it to the server). */
export const MAX_CLIENT_ASSERTION_LIFETIME_SECONDS = 300;

/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 `d`; `priv` of AKP keys). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];
const KEY_TYPES = new Set(['RSA', 'EC', 'OKP']);
const MIN_RSA_BITS = 2048;

/** Why a JWK Set is refused as a client's keys; undefined when it is accepted. */
export function jwksProblem(jwks: unknown): string | undefined {
  if (typeof jwks !== 'object' || jwks === null || Array.isArray(jwks)) return 'must be a JWK Set: {"keys": [...]}';
  const keys = (jwks as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) return 'must hold at least one key in "keys"';
  if (keys.length > MAX_CLIENT_KEYS) return `may hold at most ${MAX_CLIENT_KEYS} keys`;
  if (Buffer.byteLength(JSON.stringify(jwks)) > MAX_JWKS_BYTES) return `may be at most ${MAX_JWKS_BYTES} bytes`;
  const kids = new Set<string>();
  for (const [i, key] of keys.entries()) {
    const problem = jwkProblem(key);
    if (problem) return `keys[${i}] ${problem}`;
    const { kid } = key as { kid?: string };
    if (kid !== undefined) {
      if (kids.has(kid)) return `keys[${i}] repeats the kid "${kid}": a verifier could not tell the keys apart`;
      kids.add(kid);
    }
  }
  return undefined;
}

function jwkProblem(key: unknown): string | undefined {
  if (typeof key !== 'object' || key === null || Array.isArray(key)) return 'must be a JWK (an object)';
  const jwk = key as Record<string, unknown>;
  if (jwk.kty === 'oct') return 'is a symmetric key (kty "oct"): only public keys are registered (client secrets are stored as digests, so HS* cannot work either)';
  // before any other check: the message must say that a private key was sent, whatever else is wrong with it
  const secret = PRIVATE_MEMBERS.filter((member) => member in jwk);
  if (secret.length) {
    return `holds private key material (${secret.map((m) => `"${m}"`).join(', ')}): register the public key only, and replace this key pair, whose private part has now been sent elsewhere`;
  }
  if (typeof jwk.kty !== 'string' || !KEY_TYPES.has(jwk.kty)) return 'must have kty "RSA", "EC" or "OKP"';
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'must be a signing key (use "sig", or no use)';
  for (const member of ['kid', 'alg', 'use'] as const) {
    if (jwk[member] !== undefined && (typeof jwk[member] !== 'string' || !jwk[member])) return `${member} must be a non-empty string`;
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: jwk, format: 'jwk' } as JsonWebKeyInput);
  } catch {
    return 'is not a valid public key';
  }
  const bits = publicKey.asymmetricKeyDetails?.modulusLength;
  if (jwk.kty === 'RSA' && (bits ?? 0) < MIN_RSA_BITS) return `is an RSA key of ${bits} bits: at least ${MIN_RSA_BITS} are required`;
  return x5cProblem(jwk.x5c, publicKey);
}

/**
 * A key's certificate chain (x5c), when given: its first certificate must
 * parse and hold this very key. self_signed_tls_client_auth compares the
 * client's certificate with it, so a certificate of another key would let
 * whoever holds that other key authenticate.
 */
function x5cProblem(x5c: unknown, publicKey: KeyObject): string | undefined {
  if (x5c === undefined) return undefined;
  if (!Array.isArray(x5c) || x5c.length === 0 || !x5c.every((c) => typeof c === 'string' && c)) return 'x5c must be a list of base64 certificates';
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(Buffer.from(x5c[0] as string, 'base64'));
  } catch {
    return 'x5c[0] is not a certificate (base64 DER)';
  }
  if (!certificate.publicKey.equals(publicKey)) return 'x5c[0] is a certificate of another key';
  return undefined;
}

/**
 * Why a jwks_uri is refused; undefined when it is accepted. https to a host
 * name or a public address; loopback (http or https) only with
 * `allowLoopback` (development); never credentials, a fragment, or a
 * private, link-local or reserved address. A host name is judged again at
 * every fetch by the provider's own guard, which refuses special-use
 * addresses at connection time (outgoingFetch, backchannel-logout.ts).
 */
export function jwksUriProblem(value: string, options: { allowLoopback: boolean }): string | undefined {
  const url = urlTheServerMayCall(value);
  if (typeof url === 'string') return url;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an https URL';
  const loopback = isLoopbackHost(url.hostname);
  if (loopback) {
    return options.allowLoopback ? undefined : 'may name a loopback address only when JWKS_URI_ALLOW_LOOPBACK=true (development)';
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host)) {
    const kind = addressKind(host);
    if (kind !== 'public') return `must not name a ${kind === 'private' ? 'private' : 'link-local, reserved or special-purpose'} address: the server would fetch it from inside the network`;
  }
  if (url.protocol !== 'https:') return 'must be an https URL (http only to a loopback address, for development)';
  return undefined;
}

/**
 * The provider checks a client assertion's signature, iss, sub, aud, exp and
 * jti (single use: replay-detection.ts); this bounds how long one may live, so
 * a leaked assertion is usable for minutes at most, and its replay record
 * expires as soon. `iat`, when present, may not lie further back than that
 * either.
 */
export const boundClientAssertionLifetime: NonNullable<Configuration['assertJwtClientAuthClaimsAndHeader']> = (_ctx, claims) => {
  const now = Math.floor(Date.now() / 1000);
  const { exp, iat } = claims as { exp?: unknown; iat?: unknown };
  if (typeof exp === 'number' && exp - now > MAX_CLIENT_ASSERTION_LIFETIME_SECONDS) {
    throw new errors.InvalidClientAuth(`client assertion expires too late (exp at most ${MAX_CLIENT_ASSERTION_LIFETIME_SECONDS} seconds ahead)`);
  }
  if (typeof exp === 'number' && typeof iat === 'number' && exp - iat > MAX_CLIENT_ASSERTION_LIFETIME_SECONDS) {
    throw new errors.InvalidClientAuth(`client assertion lives too long (exp - iat at most ${MAX_CLIENT_ASSERTION_LIFETIME_SECONDS} seconds)`);
  }
};

/**
 * A client assertion's `aud` must be the issuer, as its only value
 * (draft-ietf-oauth-rfc7523bis; FAPI 2.0). The provider also accepts the
 * token endpoint's URL, the URL of the endpoint called, or an array holding
 * one of them: that is audience injection. A client that uses another
 * authorization server too, and takes the `aud` from that server's metadata,
 * signs whatever URL that server names as its endpoint, Tessera's token or
 * PAR endpoint included, and sends the assertion there; that server replays
 * it here. No other server can name itself with Tessera's issuer (clients
 * check a server's metadata names the issuer they asked), so the issuer is
 * safe to sign for.
 */
export const requireIssuerAudience: NonNullable<Configuration['assertJwtClientAuthClaimsAndHeader']> = (ctx, claims) => {
  if ((claims as { aud?: unknown }).aud !== ctx.oidc.issuer) {
    throw new errors.InvalidClientAuth(`client assertion audience (aud) must be the issuer identifier ${ctx.oidc.issuer}, as a single string`);
  }
};

/** Tessera's checks of a client assertion beyond the provider's own: lifetime and audience. */
export const checkClientAssertion: NonNullable<Configuration['assertJwtClientAuthClaimsAndHeader']> = async (ctx, claims, header, client) => {
  await boundClientAssertionLifetime(ctx, claims, header, client);
  await requireIssuerAudience(ctx, claims, header, client);
};
