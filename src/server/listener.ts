import { createServer, type Server } from 'node:http';
import type { Config } from '../config/index.ts';
import type { NodeHandler } from '../http/index.ts';
import { ResponseKeepingHeaders } from './front-door.ts';

/**
 * The HTTP server Tessera listens with, its timeouts from config.http. The
 * keep-alive timeout defaults above the idle timeouts of common load balancers
 * (60 s): when Node closed an idle connection first, a balancer that had just
 * sent a request on it answered 502. The headers timeout stays above the
 * keep-alive timeout, as Node requires for a connection reused at its last moment.
 */
export function createListener(config: Config, handler: NodeHandler): Server {
  // the front door's security headers survive an app's error answer (ResponseKeepingHeaders)
  const server = createServer({ ServerResponse: ResponseKeepingHeaders }, handler);
  applyTimeouts(server, config);
  return server;
}

export function applyTimeouts(server: Server, config: Config): void {
  server.keepAliveTimeout = config.http.keepAliveTimeoutMs;
  server.headersTimeout = config.http.headersTimeoutMs;
  server.requestTimeout = config.http.requestTimeoutMs;
}
