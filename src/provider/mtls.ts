import { BlockList, isIP } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { CertificateOf } from '../http/index.ts';

/*
 * mTLS (RFC 8705) for the provider: tls_client_auth (a client authenticates
 * with a certificate from the configured CA whose subject, or one subject
 * alternative name, is the one registered) and certificate-bound access
 * tokens (cnf.x5t#S256). Where a request's certificate comes from, and when
 * it counts, is src/http/client-certificate.ts. On only when a certificate
 * source is configured; off, the provider refuses tls_client_auth and
 * Tessera refuses tls_client_certificate_bound_access_tokens (index.ts).
 *
 * self_signed_tls_client_auth (RFC 8705 §2.2): the client registers its
 * certificate in its JWKS (x5c) and presents it in the handshake; no CA is
 * involved, so for this method alone an unverified certificate is read (see
 * mtlsFeature).
 */

type MtlsFeature = NonNullable<NonNullable<Configuration['features']>['mTLS']>;

/** A Distinguished Name as its attributes in order, type upper-cased: [["CN", "svc"], ["O", "Example"]]. */
type Dn = Array<[string, string]>;

/**
 * An RFC 4514 string ("CN=svc,O=Example,C=DE"): split on unescaped commas
 * (or semicolons), escapes undone. Multi-valued RDNs ("+") are not
 * supported: such a DN never matches. Undefined when it does not parse.
 */
export function parseRfc4514(text: string): Dn | undefined {
  const attributes: Dn = [];
  let current: number[] = []; // UTF-8 bytes: a hex escape is one byte of a character
  const finish = () => {
    const rdn = Buffer.from(current).toString('utf8');
    const eq = rdn.indexOf('\u0000');
    if (eq <= 0) return false;
    attributes.push([rdn.slice(0, eq).trim().toUpperCase(), rdn.slice(eq + 1).trim()]);
    current = [];
    return true;
  };
  let sawEquals = false;
  const add = (s: string) => current.push(...Buffer.from(s, 'utf8'));
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      const hex = /^[0-9A-Fa-f]{2}/.exec(text.slice(i + 1));
      if (hex) { current.push(parseInt(hex[0], 16)); i += 2; } else if (i + 1 < text.length) { add(text[++i]); } else return undefined;
    } else if (c === '+') {
      return undefined;
    } else if (c === ',' || c === ';') {
      if (!sawEquals || !finish()) return undefined;
      sawEquals = false;
    } else if (c === '=' && !sawEquals) {
      sawEquals = true;
      current.push(0); // the separator, which no escaped value can produce here
    } else {
      add(c);
    }
  }
  if (!sawEquals || !finish()) return undefined;
  return attributes;
}

/**
 * Node's X509Certificate.subject: one "TYPE=value" per line, most significant
 * first, values escaped as RFC 4514 does ("O=Example\\, Inc."). Undefined
 * for a subject it cannot read (a multi-valued RDN): it then never matches.
 */
function subjectOf(cert: X509Certificate): Dn | undefined {
  const lines = cert.subject.split('\n').filter(Boolean);
  const dn: Dn = [];
  for (const line of lines) {
    const parsed = parseRfc4514(line);
    if (parsed?.length !== 1) return undefined;
    dn.push(parsed[0]);
  }
  return dn;
}

const sameDn = (a: Dn, b: Dn) => a.length === b.length && a.every(([type, value], i) => type === b[i][0] && value === b[i][1]);

/**
 * RFC 4514 writes the most specific attribute first (CN=…,O=…,C=…), the
 * certificate the other way round; either order of the same attributes matches.
 */
export function subjectDnMatches(cert: X509Certificate, expected: string): boolean {
  const wanted = parseRfc4514(expected);
  if (!wanted) return false;
  const actual = subjectOf(cert);
  if (!actual) return false;
  return sameDn(actual, wanted) || sameDn([...actual].reverse(), wanted);
}

/** The certificate's URI subject alternative names (Node quotes a value holding a comma as a JSON string). */
function uriNamesOf(cert: X509Certificate): string[] {
  const names: string[] = [];
  for (const match of (cert.subjectAltName ?? '').matchAll(/(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    try {
      names.push(match[1].startsWith('"') ? JSON.parse(match[1]) as string : match[1]);
    } catch {
      // a value Node wrote that is not JSON: never matches
    }
  }
  return names;
}

function sameAddress(cert: X509Certificate, expected: string): boolean {
  const version = isIP(expected);
  if (!version) return false;
  // checkIP compares the iPAddress SANs only, in any notation of the same address
  if (cert.checkIP(expected) !== undefined) return true;
  // an IPv6 written another way (zeros, case): compare as addresses
  const list = new BlockList();
  list.addAddress(expected, version === 4 ? 'ipv4' : 'ipv6');
  const ips = [...(cert.subjectAltName ?? '').matchAll(/(?:^|, )IP Address:([0-9A-Fa-f:.]+)/g)].map((m) => m[1]);
  return ips.some((ip) => isIP(ip) === version && list.check(ip, version === 4 ? 'ipv4' : 'ipv6'));
}

/**
 * Whether the registered tls_client_auth_* value is the certificate's: the
 * subject DN, or an exact subjectAltName entry of the kind named (no wildcard
 * expansion, never the subject's CN in place of a SAN).
 */
export function certificateSubjectMatches(cert: X509Certificate, property: string, expected: string): boolean {
  if (typeof expected !== 'string' || !expected) return false;
  switch (property) {
    case 'tls_client_auth_subject_dn':
      return subjectDnMatches(cert, expected);
    case 'tls_client_auth_san_dns':
      return cert.checkHost(expected, { subject: 'never', wildcards: false, partialWildcards: false }) !== undefined;
    case 'tls_client_auth_san_email':
      return cert.checkEmail(expected, { subject: 'never' }) !== undefined;
    case 'tls_client_auth_san_ip':
      return sameAddress(cert, expected);
    case 'tls_client_auth_san_uri':
      return uriNamesOf(cert).includes(expected);
    default:
      return false;
  }
}

/**
 * The provider's features.mTLS, with certificates from `certificateOf`
 * (verified against the client CA, or from the trusted proxy). A client
 * registered for self_signed_tls_client_auth is the one exception: while
 * it authenticates, its certificate comes from `selfSignedCertificateOf`,
 * which also passes a handshake certificate no CA vouches for. The provider
 * then compares that certificate with the ones in the client's JWKS (x5c).
 * Such a client cannot register bound tokens (client-kinds.ts): userinfo and
 * the admin API check bindings against verified certificates only.
 */
export function mtlsFeature(certificateOf: CertificateOf, selfSignedCertificateOf?: CertificateOf): MtlsFeature {
  const certificate = (ctx: KoaContextWithOIDC) => certificateOf(ctx.req);
  const selfSigned = (ctx: KoaContextWithOIDC) => !!selfSignedCertificateOf && ctx.oidc?.client?.clientAuthMethod === 'self_signed_tls_client_auth';
  return {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: !!selfSignedCertificateOf,
    getCertificate: ((ctx: KoaContextWithOIDC) => (selfSigned(ctx) ? selfSignedCertificateOf!(ctx.req) : certificate(ctx))) as MtlsFeature['getCertificate'],
    // tls_client_auth: a certificate counts only once the CA verified it (or the trusted proxy wrote it)
    certificateAuthorized: (ctx: KoaContextWithOIDC) => certificate(ctx) !== undefined,
    certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) => {
      const cert = certificate(ctx);
      return !!cert && certificateSubjectMatches(cert, property, expected);
    },
  } as MtlsFeature;
}
