import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  /** the CA that signed `cert` */
  ca: string;
  /** a server (and client) certificate for `servername` only: no IP address */
  cert: string;
  key: string;
  servername: string;
  /** a CA that signed nothing here */
  otherCa: string;
  remove(): void;
}

/** A throw-away CA and a certificate it signed (P-256, valid one day), made with the openssl CLI in a temp dir. */
export async function createTestCertificates(servername = 'redis.test'): Promise<TestCertificates> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args, { timeout: 20_000 });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    for (const ca of ['ca', 'other-ca']) {
      await openssl('req', '-x509', ...newKey, '-keyout', file(`${ca}.key`), '-out', file(`${ca}.pem`), '-days', '1', '-subj', `/CN=Tessera test ${ca}`);
    }
    await openssl('req', ...newKey, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', `/CN=${servername}`);
    writeFileSync(file('server.ext'), `subjectAltName=DNS:${servername}\n`);
    await openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-out', file('server.pem'), '-days', '1', '-extfile', file('server.ext'));
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key'), servername, otherCa: file('other-ca.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
