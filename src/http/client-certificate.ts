import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { cameThroughTrustedProxy } from './proxy-trust.ts';

/*
 * The client certificate of a request, for mTLS (RFC 8705): client
 * authentication (tls_client_auth) and certificate-bound access tokens.
 * Two sources, each only where it is configured:
 *
 *  - direct TLS with a client CA (TLS_CLIENT_CA_FILE): the certificate the
 *    client presented in the handshake, and only when it verified against
 *    that CA (socket.authorized). The listener asks for a certificate but
 *    requires none (tls.ts), so a handshake without one, or with one from
 *    another CA, yields no certificate here;
 *  - behind a TLS-terminating proxy (TLS_CLIENT_CERT_HEADER): the header the
 *    proxy writes, and only on a request whose TCP peer is a trusted proxy
 *    (cameThroughTrustedProxy). The proxy verified the chain; Tessera checks
 *    that the certificate parses and is within its validity period.
 *
 * A request that came through a trusted proxy is never read from its socket
 * (that would be the proxy's own certificate), and a request that did not is
 * never read from the header (any client could write it). Neither configured:
 * no request has a certificate.
 */

export interface ClientCertificateSources {
  /** the listener serves TLS with a client CA: handshake certificates verified against it */
  readonly handshake: boolean;
  /** the header a trusted TLS-terminating proxy puts the client certificate in (URL-encoded PEM); absent: none */
  readonly header?: string;
}

export type CertificateOf = (req: IncomingMessage) => X509Certificate | undefined;

/** Whether any source is configured: without one, mTLS is off. */
export function hasClientCertificateSource(sources: ClientCertificateSources): boolean {
  return sources.handshake || !!sources.header;
}

/** PEM with its line breaks lost (some proxies send spaces), or bare base64 DER, as DER; undefined when neither. */
function derOf(text: string): Buffer | undefined {
  const pem = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(text);
  const base64 = (pem ? pem[1] : text).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return undefined;
  return Buffer.from(base64, 'base64');
}

/** The header's certificate, when it parses and is valid now; undefined otherwise. */
export function certificateFromHeader(value: string | string[] | undefined, now = Date.now()): X509Certificate | undefined {
  if (typeof value !== 'string' || !value || value.length > 16_384) return undefined;
  let text: string;
  try {
    text = decodeURIComponent(value);
  } catch {
    return undefined;
  }
  const der = derOf(text);
  if (!der) return undefined;
  try {
    const cert = new X509Certificate(der);
    if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return undefined;
    return cert;
  } catch {
    return undefined;
  }
}

/** Whether a certificate is within its validity period now. */
const validNow = (cert: X509Certificate, now = Date.now()) => now >= Date.parse(cert.validFrom) && now <= Date.parse(cert.validTo);

/**
 * How a request's client certificate is found; always undefined when no
 * source is configured. `unverified`: a handshake certificate counts even
 * when it does not chain to the client CA (a self-signed one), as long as it
 * is valid now. That is only for self_signed_tls_client_auth (RFC 8705 §2.2),
 * where the certificate is compared with one the client registered; the TLS
 * handshake still proved the client holds its private key. Everything else
 * uses the verified source.
 */
export function clientCertificateSource(sources: ClientCertificateSources, options: { unverified?: boolean } = {}): CertificateOf {
  const header = sources.header?.toLowerCase();
  const find = (req: IncomingMessage): X509Certificate | undefined => {
    if (cameThroughTrustedProxy(req)) return header ? certificateFromHeader(req.headers[header]) : undefined;
    if (!sources.handshake) return undefined;
    const socket = req.socket as Partial<TLSSocket>;
    if (!socket.encrypted) return undefined;
    if (socket.authorized) return socket.getPeerX509Certificate?.();
    if (!options.unverified) return undefined;
    const cert = socket.getPeerX509Certificate?.();
    return cert && validNow(cert) ? cert : undefined;
  };
  // one memo per source: the verified and the unverified answers differ
  const FOUND = new WeakMap<IncomingMessage, X509Certificate | null>();
  return (req) => {
    // read once per request: the provider asks several times
    let found = FOUND.get(req);
    if (found === undefined) {
      found = find(req) ?? null;
      FOUND.set(req, found);
    }
    return found ?? undefined;
  };
}
