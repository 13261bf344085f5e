import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/index.ts';
import { composeTessera, type ComposeOptions, type Tessera } from './compose.ts';
import { lowerThreadPoolPriority } from './thread-priority.ts';
import { createListener } from './listener.ts';
import { metricsOnlyHandler } from '../observability/index.ts';

const PURGE_INTERVAL_MS = 10 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface RunningServer extends Pick<Tessera, 'app' | 'provider' | 'services' | 'revocation' | 'db' | 'tokenState'> {
  readonly url: string;
  readonly server: Server;
  /** the listener of config.metrics.port, when set: http://host:port/metrics */
  readonly metricsUrl?: string;
  close(): Promise<void>;
}

export type StartOptions = ComposeOptions;

/** Composes Tessera (compose.ts), then listens; close() stops listening first, then takes Tessera apart. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const tessera = await composeTessera(config, options);
  const { logger, tokenState, db } = tessera;
  const cleanups: Array<() => Promise<unknown>> = [() => tessera.close()];
  const close = async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
  };
  try {
    const reniced = await lowerThreadPoolPriority();
    logger.debug({ threads: reniced }, 'thread pool (password hashing) runs at a lower priority than the event loop');

    const server = createListener(config, tessera.handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    cleanups.unshift(() => new Promise((resolve) => {
      server.close(resolve);
      server.closeIdleConnections();
    }));

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
      metricsUrl = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${metricsPort}/metrics`;
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
    const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
    logger.info({ url, issuer: config.issuer, database: db.kind, tokenState: tokenState.kind, ...(metricsUrl ? { metrics: metricsUrl } : {}) }, 'Tessera is listening');

    let closing: Promise<void> | undefined;
    const { app, provider, services, revocation } = tessera;
    return { url, metricsUrl, app, provider, services, revocation, db, tokenState, server, close: () => (closing ??= close()) };
  } catch (error) {
    await close();
    throw error;
  }
}
