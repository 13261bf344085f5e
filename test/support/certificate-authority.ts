import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  /** the certificate's PEM text */
  cert: string;
  key: string;
}

export interface CertificateAuthority {
  /** the CA's certificate (PEM file) */
  caFile: string;
  ca: string;
  dir: string;
  /**
   * A certificate signed by this CA for `subject` ("/CN=…/O=…") with these
   * subjectAltName entries ("DNS:localhost", "IP:127.0.0.1", "URI:…", "email:…").
   * `name` names its files (issuing a name again replaces them).
   */
  issue(name: string, subject: string, altNames?: string[]): Promise<IssuedCertificate>;
  remove(): void;
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A throw-away CA (P-256, valid one day) made with the openssl CLI in a temp dir. */
export async function createCertificateAuthority(commonName = 'Tessera test CA'): Promise<CertificateAuthority> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-ca-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args, { timeout: 20_000 });
  try {
    await openssl('req', '-x509', ...NEW_KEY, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', `/CN=${commonName}`);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    caFile: file('ca.pem'),
    ca: readFileSync(file('ca.pem'), 'utf8'),
    dir,
    async issue(name, subject, altNames = []) {
      await openssl('req', ...NEW_KEY, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject);
      // a section of its own: a value may hold a comma
      const section = altNames.map((entry, i) => `${entry.slice(0, entry.indexOf(':'))}.${i} = ${entry.slice(entry.indexOf(':') + 1)}`);
      writeFileSync(file(`${name}.ext`), altNames.length ? `subjectAltName=@alt_names\n[alt_names]\n${section.join('\n')}\n` : 'basicConstraints=CA:FALSE\n');
      await openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
        '-out', file(`${name}.pem`), '-days', '1', '-extfile', file(`${name}.ext`));
      return {
        certFile: file(`${name}.pem`), keyFile: file(`${name}.key`),
        cert: readFileSync(file(`${name}.pem`), 'utf8'), key: readFileSync(file(`${name}.key`), 'utf8'),
      };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
