import { createServer, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Config } from '../config/index.ts';
import type { NodeHandler } from '../http/index.ts';
import { createTlsServer, servesTls } from './tls.ts';
import { ResponseKeepingHeaders } from './front-door.ts';

export type Listener = HttpServer | HttpsServer;

/**
 * The HTTP server Tessera listens with, its timeouts from config.http. The
 * keep-alive timeout defaults above the idle timeouts of common load balancers
 * (60 s): when Node closed an idle connection first, a balancer that had just
 * sent a request on it answered 502. The headers timeout stays above the
 * keep-alive timeout, as Node requires for a connection reused at its last moment.
 * https when config.tls names a certificate and key (tls.ts), else plain http.
 */
export function createListener(config: Config, handler: NodeHandler): Listener {
  // the front door's security headers survive an app's error answer (ResponseKeepingHeaders)
  const server = servesTls(config.tls)
    ? createTlsServer(config.tls, handler, { ServerResponse: ResponseKeepingHeaders })
    : createServer({ ServerResponse: ResponseKeepingHeaders }, handler);
  applyTimeouts(server, config);
  return server;
}

export function applyTimeouts(server: Listener, config: Config): void {
  server.keepAliveTimeout = config.http.keepAliveTimeoutMs;
  server.headersTimeout = config.http.headersTimeoutMs;
  server.requestTimeout = config.http.requestTimeoutMs;
}
