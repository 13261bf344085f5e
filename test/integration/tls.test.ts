import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { copyFileSync, writeFileSync } from 'node:fs';
import { connect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer } from '../support/server.ts';
import { createCertificateAuthority, type CertificateAuthority, type IssuedCertificate } from '../support/certificate-authority.ts';
import { httpsFetch } from '../support/https-client.ts';
import { freePort, serverPid, spawnTessera, type TesseraProcess } from '../support/process.ts';

/*
 * TLS served by Tessera itself (TLS_CERT_FILE, TLS_KEY_FILE), with a CA and
 * certificates made here by the openssl CLI: discovery through openid-client
 * over https, the protocol floor, and a certificate swapped on disk served to
 * new connections without a restart while an open connection keeps working.
 */

const SERVER_NAMES = ['DNS:localhost', 'IP:127.0.0.1'];

function handshake(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

async function servedCertificate(port: number): Promise<PeerCertificate> {
  const socket = await handshake(port);
  const cert = socket.getPeerCertificate();
  socket.destroy();
  return cert;
}

const fingerprintOf = (issued: IssuedCertificate) => new X509Certificate(issued.cert).fingerprint256;

/** Until the server hands new connections `issued` (the file poll is every 2 s); no deadline but the test's own. */
async function untilServed(port: number, issued: IssuedCertificate): Promise<void> {
  while ((await servedCertificate(port)).fingerprint256 !== fingerprintOf(issued)) await sleep(200);
}

describe('TLS served directly', () => {
  let ca: CertificateAuthority;
  let first: IssuedCertificate;
  let server: TestServer;
  const log: string[] = [];
  // the files the server reads: copies of issued certificates, replaced in place by the tests
  let certFile: string;
  let keyFile: string;

  beforeAll(async () => {
    ca = await createCertificateAuthority();
    first = await ca.issue('first', '/CN=localhost/O=Tessera first', SERVER_NAMES);
    certFile = `${ca.dir}/served.pem`;
    keyFile = `${ca.dir}/served.key`;
    copyFileSync(first.certFile, certFile);
    copyFileSync(first.keyFile, keyFile);
    server = await startTestServer({
      tls: { certFile, keyFile },
      logDestination: { write: (line) => { log.push(line); } },
    });
  });
  afterAll(async () => {
    await server?.stop();
    ca?.remove();
  });

  test('discovery over https through openid-client: every endpoint is https, and HSTS is sent', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.issuer).toBe(server.url);
    const fetchWithOurCa = httpsFetch({ ca: ca.ca });
    const configuration = await oidc.discovery(new URL(server.issuer), 'any-client', undefined, undefined, {
      [oidc.customFetch]: fetchWithOurCa as never,
    });
    const metadata = configuration.serverMetadata();
    expect(metadata.issuer).toBe(server.issuer);
    for (const endpoint of [metadata.token_endpoint, metadata.authorization_endpoint, metadata.jwks_uri, metadata.userinfo_endpoint]) {
      expect(endpoint).toMatch(new RegExp(`^${server.issuer}/`));
    }
    const res = await fetchWithOurCa(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });

  test('the certificate chains to the CA for the name the issuer uses', async () => {
    const socket = await handshake(server.config.port, { ca: ca.ca, rejectUnauthorized: true });
    expect(socket.authorized).toBe(true);
    socket.destroy();
  });

  test('TLS 1.1 is refused; TLS 1.2 and 1.3 are served', async () => {
    // SECLEVEL=0: the refusal must be the server's, not this client's OpenSSL declining TLS 1.1 itself
    const old = handshake(server.config.port, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    await expect(old).rejects.toThrow(/alert protocol version/); // the server's alert: the client did send TLS 1.1

    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const socket = await handshake(server.config.port, { minVersion: version, maxVersion: version });
      expect(socket.getProtocol()).toBe(version);
      socket.destroy();
    }
  });

  test('TLS 1.2 without forward secrecy or without an AEAD cipher is refused', async () => {
    for (const ciphers of ['AES128-GCM-SHA256', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES128-SHA256']) {
      await expect(handshake(server.config.port, { maxVersion: 'TLSv1.2', ciphers })).rejects.toThrow(/alert handshake failure/); // the server's alert: no suite in common
    }
    const socket = await handshake(server.config.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    expect(socket.getCipher().name).toBe('ECDHE-ECDSA-AES128-GCM-SHA256');
    socket.destroy();
  });

  test('a certificate swapped on disk is served to new connections without a restart; a half-written swap keeps the old one; an open connection keeps working', async () => {
    const second = await ca.issue('second', '/CN=localhost/O=Tessera second', SERVER_NAMES);
    expect((await servedCertificate(server.config.port)).fingerprint256).toBe(fingerprintOf(first));

    // a connection opened before the swap, kept open across it
    const open = await handshake(server.config.port, { ca: ca.ca, servername: 'localhost' });

    // half written: the new certificate without its key yet
    copyFileSync(second.certFile, certFile);
    while (!log.some((line) => line.includes('TLS certificate not reloaded'))) await sleep(200);
    expect((await servedCertificate(server.config.port)).fingerprint256).toBe(fingerprintOf(first));

    // the key follows: the pair loads, and new connections get it
    copyFileSync(second.keyFile, keyFile);
    await untilServed(server.config.port, second);
    const reloaded = log.map((line) => JSON.parse(line) as { msg: string; subject?: string }).filter((entry) => entry.msg === 'TLS certificate reloaded');
    expect(reloaded.at(-1)?.subject).toContain('O=Tessera second');

    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      open.on('data', (chunk: Buffer) => { text += chunk.toString(); if (text.includes('\r\n\r\n')) resolve(text); });
      open.once('error', reject);
      open.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${server.config.port}\r\nConnection: close\r\n\r\n`);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(new X509Certificate(open.getPeerCertificate(true).raw).fingerprint256).toBe(fingerprintOf(first));
    open.destroy();
  });

  test('a file that is not PEM at all keeps the served certificate', async () => {
    const before = (await servedCertificate(server.config.port)).fingerprint256;
    const warnings = log.filter((line) => line.includes('TLS certificate not reloaded')).length;
    writeFileSync(certFile, '-----BEGIN CERTIFICATE-----\ntruncat');
    while (log.filter((line) => line.includes('TLS certificate not reloaded')).length === warnings) await sleep(200);
    expect((await servedCertificate(server.config.port)).fingerprint256).toBe(before);
  });
});

describe('tessera serve with TLS, as a process', () => {
  let ca: CertificateAuthority;
  let proc: TesseraProcess | undefined;
  afterAll(async () => {
    await proc?.stop();
    ca?.remove();
  });

  test('SIGHUP reloads the certificate files (logged), and the server keeps serving', async () => {
    ca = await createCertificateAuthority();
    const served = await ca.issue('served', '/CN=localhost', SERVER_NAMES);
    const port = await freePort();
    const issuer = `https://127.0.0.1:${port}`;
    proc = spawnTessera(['serve'], {
      PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer,
      DATA_DIR: `${ca.dir}/data`, KEYS_DIR: `${ca.dir}/keys`, LOG_LEVEL: 'info',
      TLS_CERT_FILE: served.certFile, TLS_KEY_FILE: served.keyFile,
    }, port);
    let exited = false;
    void proc.exited.then(() => { exited = true; });
    while (!proc.output().includes('Tessera is listening')) {
      if (exited) throw new Error(proc.output());
      await sleep(100);
    }
    process.kill(serverPid(proc.child.pid!), 'SIGHUP');
    while (!/"reason":"SIGHUP".*TLS certificate reloaded/.test(proc.output())) {
      if (exited) throw new Error(proc.output());
      await sleep(50);
    }
    const res = await httpsFetch({ ca: ca.ca })(`${issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect((await res.json() as { issuer: string }).issuer).toBe(issuer);
  });
});
