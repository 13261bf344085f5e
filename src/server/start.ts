import type { AddressInfo } from 'node:net';
import type { Server as HttpsServer } from 'node:https';
import type { Config } from '../config/index.ts';
import { composeTessera, type ComposeOptions, type Tessera } from './compose.ts';
import { lowerThreadPoolPriority } from './thread-priority.ts';
import { createListener, type Listener } from './listener.ts';
import { servesTls, watchTlsFiles } from './tls.ts';
import { closingConnections, createDrainState, createShutdown, type ShutdownOutcome } from './shutdown.ts';
import { metricsOnlyHandler } from '../observability/index.ts';

const PURGE_INTERVAL_MS = 10 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface RunningServer extends Pick<Tessera, 'app' | 'provider' | 'services' | 'revocation' | 'db' | 'tokenState'> {
  readonly url: string;
  readonly server: Listener;
  /** the listener of config.metrics.port, when set: http://host:port/metrics */
  readonly metricsUrl?: string;
  /** reads the TLS certificate, key and client CA files again (what SIGHUP does); false when they do not load or TLS is not served */
  reloadTls(): boolean;
  /** stops at once: the listener, then everything else (tests) */
  close(): Promise<void>;
  /**
   * The orderly stop (src/server/shutdown.ts, config.shutdown): /readyz 503,
   * drain delay, listener closed, in-flight requests finished, stores closed.
   */
  shutdown(): Promise<ShutdownOutcome>;
  /** skips what is left of the drain delay and the grace period of a shutdown under way */
  hurryShutdown(): void;
}

export interface StartOptions extends ComposeOptions {
  /**
   * false: no process-wide SIGHUP handler (tests, several servers in one
   * process). Default true: SIGHUP reloads the TLS files.
   */
  handleSighup?: boolean;
}

/** Composes Tessera (compose.ts), then listens; close() stops listening first, then takes Tessera apart. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const drain = createDrainState();
  const tessera = await composeTessera(config, { ...options, draining: () => drain.draining });
  const { logger, tokenState, db } = tessera;
  const cleanups: Array<() => Promise<unknown>> = [() => tessera.close()];
  const close = async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
  };
  try {
    const reniced = await lowerThreadPoolPriority();
    logger.debug({ threads: reniced }, 'thread pool (password hashing) runs at a lower priority than the event loop');

    const server = createListener(config, closingConnections(drain, tessera.handler));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const closeListener = () => new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    cleanups.unshift(closeListener);

    // new certificates without a restart: on a change of the files, and on SIGHUP
    let reloadTls = () => false;
    if (servesTls(config.tls)) {
      const watcher = watchTlsFiles(server as HttpsServer, config.tls, logger);
      reloadTls = () => watcher.reload('reload asked');
      cleanups.unshift(async () => watcher.stop());
      if (options.handleSighup !== false) {
        const onSighup = () => { watcher.reload('SIGHUP'); };
        process.on('SIGHUP', onSighup);
        cleanups.unshift(async () => { process.off('SIGHUP', onSighup); });
      }
    }

    // /metrics on a port of its own: nothing else is served there
    let metricsUrl: string | undefined;
    if (tessera.metricsHandler && config.metrics.port !== undefined) {
      const metricsServer = createListener(config, metricsOnlyHandler(tessera.metricsHandler));
      await new Promise<void>((resolve, reject) => {
        metricsServer.once('error', reject);
        metricsServer.listen(config.metrics.port, config.host, () => resolve());
      });
      cleanups.unshift(() => new Promise((resolve) => {
        metricsServer.close(resolve);
        metricsServer.closeIdleConnections();
      }));
      const { port: metricsPort } = metricsServer.address() as AddressInfo;
      metricsUrl = `${servesTls(config.tls) ? 'https' : 'http'}://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${metricsPort}/metrics`;
    }

    const purge = tokenState.purgeExpired;
    if (purge) {
      const timer = setInterval(() => { purge().catch((err) => logger.warn({ err: err.message }, 'purge of expired token state failed')); }, PURGE_INTERVAL_MS);
      timer.unref();
      cleanups.unshift(async () => clearInterval(timer));
    }

    // queued webhook deliveries (also those left by an earlier run) go out from now on
    tessera.webhookDelivery.start();
    cleanups.unshift(() => tessera.webhookDelivery.stop());
    // audit retention: every instance purges (the deletes are idempotent); once now, then on the timer
    let purging: Promise<void> | undefined;
    const purgeAudit = () => {
      if (purging) return;
      const cutoff = new Date(Date.now() - config.audit.retentionDays * DAY_MS);
      purging = tessera.services.audit.purgeOlderThan(cutoff)
        .then((purged) => { if (purged) logger.info({ purged, before: cutoff.toISOString() }, 'audit events past their retention purged'); })
        .catch((err: Error) => logger.warn({ err: err.message }, 'purge of old audit events failed'))
        .finally(() => { purging = undefined; });
    };
    purgeAudit();
    const auditTimer = setInterval(purgeAudit, PURGE_INTERVAL_MS);
    auditTimer.unref();
    // a purge under way finishes before the database closes
    cleanups.unshift(async () => { clearInterval(auditTimer); await purging; });

    const { port } = server.address() as AddressInfo;
    const url = `${servesTls(config.tls) ? 'https' : 'http'}://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
    logger.info({ url, issuer: config.issuer, database: db.kind, tokenState: tokenState.kind, ...(metricsUrl ? { metrics: metricsUrl } : {}) }, 'Tessera is listening');

    let closing: Promise<void> | undefined;
    const closeOnce = () => (closing ??= close());
    const orderly = createShutdown({ server, state: drain, logger, closeTheRest: closeOnce }, config.shutdown);
    const { app, provider, services, revocation } = tessera;
    return {
      url, metricsUrl, app, provider, services, revocation, db, tokenState, server, reloadTls,
      close: closeOnce,
      shutdown: orderly.run,
      hurryShutdown: orderly.hurry,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
