import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { createServer, type Server, type ServerOptions } from 'node:https';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { TlsConfig } from '../config/index.ts';
import type { NodeHandler } from '../http/index.ts';
import type { Logger } from '../observability/index.ts';

/*
 * TLS served directly (config `tls`: TLS_CERT_FILE, TLS_KEY_FILE, and for
 * mTLS TLS_CLIENT_CA_FILE). TLS 1.2 at least, forward-secret AEAD suites only.
 * The files are read again on SIGHUP (start.ts) and when one of them changes
 * on disk (polled): the new context serves new connections, open ones keep
 * theirs, nothing restarts. A file caught half written (a certificate
 * without its key yet, a truncated PEM) fails to load: the old context stays
 * and a warning says why, and the next change or SIGHUP tries again.
 */

/** TLS 1.3's suites, then TLS 1.2's with ECDHE and an AEAD cipher (Mozilla's "intermediate" list). */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const TLS_MIN_VERSION = 'TLSv1.2' as const;

/** how often the certificate, key and client CA files are looked at (their mtime and size) */
export const TLS_FILE_POLL_MS = 2000;

type ServedTls = Required<Pick<TlsConfig, 'certFile' | 'keyFile'>> & Pick<TlsConfig, 'clientCaFile'>;

export function servesTls(tls: TlsConfig | undefined): tls is ServedTls & TlsConfig {
  return !!tls?.certFile && !!tls.keyFile;
}

/**
 * The files read and checked: every PEM parses, the key is the certificate's
 * (createSecureContext refuses a mismatch), and the certificate is not expired.
 * Throws with a message naming the file when anything is wrong.
 */
export function loadSecureContextOptions(tls: ServedTls): SecureContextOptions & { notAfter: string; subject: string } {
  const read = (file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const cert = read(tls.certFile);
  const key = read(tls.keyFile);
  const ca = tls.clientCaFile ? read(tls.clientCaFile) : undefined;
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new Error(`${tls.certFile}: not a PEM certificate`);
  }
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch {
      throw new Error(`${tls.clientCaFile}: not a PEM certificate`);
    }
  }
  const options: SecureContextOptions = { cert, key, ca, minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERS, honorCipherOrder: true };
  try {
    createSecureContext(options); // the key must be the certificate's
  } catch (error) {
    throw new Error(`${tls.certFile} / ${tls.keyFile}: ${(error as Error).message}`);
  }
  return { ...options, notAfter: leaf.validTo, subject: leaf.subject };
}

export interface TlsReloader {
  /** reads the files again; false (old context kept, warning logged) when they do not load */
  reload(reason: string): boolean;
  /** stops watching the files */
  stop(): void;
}

/**
 * An https server. With a client CA it asks every client for a certificate
 * but requires none (requestCert, not rejectUnauthorized): whether a client
 * needed one and whether it was verified is the provider's decision per
 * client (src/provider/mtls.ts reads socket.authorized).
 */
export function createTlsServer(tls: ServedTls, handler: NodeHandler, serverOptions: Pick<ServerOptions, 'ServerResponse'> = {}): Server {
  const { notAfter: _notAfter, subject: _subject, ...options } = loadSecureContextOptions(tls);
  const mtls = !!tls.clientCaFile;
  return createServer({ ...serverOptions, ...options, requestCert: mtls, rejectUnauthorized: false }, handler);
}

/** Reloads the server's context when a file changes (polled) and when reload() is called (SIGHUP). */
export function watchTlsFiles(server: Server, tls: ServedTls, logger: Logger, pollMs = TLS_FILE_POLL_MS): TlsReloader {
  const reload = (reason: string): boolean => {
    let loaded: ReturnType<typeof loadSecureContextOptions>;
    try {
      loaded = loadSecureContextOptions(tls);
    } catch (error) {
      logger.warn({ reason, err: (error as Error).message }, 'TLS certificate not reloaded: the files do not load; the previous certificate is still served');
      return false;
    }
    const { notAfter, subject, ...options } = loaded;
    server.setSecureContext(options);
    logger.info({ reason, subject, notAfter }, 'TLS certificate reloaded');
    return true;
  };
  const files = [tls.certFile, tls.keyFile, tls.clientCaFile].filter((file): file is string => !!file);
  const onChange = (file: string) => (current: { mtimeMs: number; size: number }, previous: { mtimeMs: number; size: number }) => {
    if (current.mtimeMs === previous.mtimeMs && current.size === previous.size) return;
    reload(`${file} changed`);
  };
  const listeners = files.map((file) => {
    const listener = onChange(file);
    // not persistent: the watch alone keeps no process alive
    watchFile(file, { interval: pollMs, persistent: false }, listener);
    return { file, listener };
  });
  return {
    reload,
    stop() {
      for (const { file, listener } of listeners) unwatchFile(file, listener);
    },
  };
}
