import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { certificateSubjectMatches, parseRfc4514 } from '../../src/provider/mtls.ts';
import { certificateFromHeader } from '../../src/http/index.ts';
import { createCertificateAuthority, type CertificateAuthority } from '../support/certificate-authority.ts';

/*
 * How a registered tls_client_auth_* value is compared with a real
 * certificate (made by openssl): the subject DN in either order, SAN entries
 * exactly (no wildcard expansion, never the CN in place of a SAN).
 */
describe('tls_client_auth subject matching', () => {
  let ca: CertificateAuthority;
  let cert: X509Certificate;
  let cnOnly: X509Certificate;
  let wildcard: X509Certificate;
  beforeAll(async () => {
    ca = await createCertificateAuthority();
    cert = new X509Certificate((await ca.issue('svc', '/C=DE/O=Example, Inc./CN=svc', [
      'DNS:svc.example.test', 'IP:2001:db8::1', 'email:svc@example.test', 'URI:https://svc.example.test/a,b',
    ])).cert);
    cnOnly = new X509Certificate((await ca.issue('cn-only', '/CN=svc.example.test')).cert);
    wildcard = new X509Certificate((await ca.issue('wildcard', '/CN=wild', ['DNS:*.example.test'])).cert);
  });
  afterAll(() => ca?.remove());

  const matches = (c: X509Certificate, property: string, expected: string) => certificateSubjectMatches(c, property, expected);

  test('subject DN: RFC 4514 order or the certificate\'s, escapes read, every attribute needed', () => {
    expect(matches(cert, 'tls_client_auth_subject_dn', 'CN=svc,O=Example\\, Inc.,C=DE')).toBe(true);
    expect(matches(cert, 'tls_client_auth_subject_dn', 'C=DE,O=Example\\, Inc.,CN=svc')).toBe(true);
    expect(matches(cert, 'tls_client_auth_subject_dn', 'cn=svc,o=Example\\2C Inc.,c=DE')).toBe(true);
    expect(matches(cert, 'tls_client_auth_subject_dn', 'CN=svc,O=Example\\, Inc.')).toBe(false);
    expect(matches(cert, 'tls_client_auth_subject_dn', 'CN=svc,O=Example,C=DE')).toBe(false);
    expect(matches(cert, 'tls_client_auth_subject_dn', 'CN=svc+OU=x,O=Example\\, Inc.,C=DE')).toBe(false);
    expect(parseRfc4514('CN=svc,')).toBeUndefined();
  });

  test('dNSName: exact (any case), never the CN, never a wildcard expanded', () => {
    expect(matches(cert, 'tls_client_auth_san_dns', 'svc.example.test')).toBe(true);
    expect(matches(cert, 'tls_client_auth_san_dns', 'SVC.example.test')).toBe(true);
    expect(matches(cert, 'tls_client_auth_san_dns', 'other.example.test')).toBe(false);
    expect(matches(cnOnly, 'tls_client_auth_san_dns', 'svc.example.test')).toBe(false);
    expect(matches(wildcard, 'tls_client_auth_san_dns', 'a.example.test')).toBe(false);
  });

  test('iPAddress in any notation of the same address; rfc822Name; URI exactly, a comma in it included', () => {
    expect(matches(cert, 'tls_client_auth_san_ip', '2001:db8::1')).toBe(true);
    expect(matches(cert, 'tls_client_auth_san_ip', '2001:DB8:0:0:0:0:0:1')).toBe(true);
    expect(matches(cert, 'tls_client_auth_san_ip', '2001:db8::2')).toBe(false);
    expect(matches(cert, 'tls_client_auth_san_ip', 'not an address')).toBe(false);
    expect(matches(cert, 'tls_client_auth_san_email', 'svc@example.test')).toBe(true);
    expect(matches(cert, 'tls_client_auth_san_email', 'other@example.test')).toBe(false);
    expect(matches(cert, 'tls_client_auth_san_uri', 'https://svc.example.test/a,b')).toBe(true);
    expect(matches(cert, 'tls_client_auth_san_uri', 'https://svc.example.test/a')).toBe(false);
    expect(matches(cert, 'tls_client_auth_something_else', 'svc')).toBe(false);
  });

  test('the proxy header: URL-encoded PEM, PEM with spaces for line breaks, bare base64 DER; anything else is none', () => {
    const pem = cert.toString();
    const der = cert.raw.toString('base64');
    for (const value of [encodeURIComponent(pem), pem.replace(/\n/g, ' '), der]) {
      expect(certificateFromHeader(value)?.fingerprint256).toBe(cert.fingerprint256);
    }
    for (const value of [undefined, '', 'garbage', encodeURIComponent(pem.slice(0, 300)), '%E0%A4%A', [pem, pem]]) {
      expect(certificateFromHeader(value)).toBeUndefined();
    }
    // outside its validity period
    expect(certificateFromHeader(der, Date.parse(cert.validTo) + 1000)).toBeUndefined();
  });
});
