import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isLoopbackHost, type NodeHandler } from '../http/index.ts';
import type { Metrics } from './metrics.ts';

export const METRICS_PATH = '/metrics';

export interface MetricsEndpointOptions {
  metrics: Metrics;
  /** config.metrics.token: required as `Authorization: Bearer <token>`; absent: loopback peers only */
  token?: string;
  /**
   * Whether a trusted proxy may stand in front of this listener (config.proxy
   * on the main port). Then the TCP peer can be a proxy on this machine relaying
   * anyone's request, so "the peer is loopback" proves nothing: without a token
   * every scrape is refused.
   */
  behindProxy: boolean;
  /** the issuer's host (name[:port]), accepted as Host besides loopback names */
  issuerHost?: string;
}

const digestOf = (value: string) => hash('sha256', value, 'buffer');

/** The host name of a Host header (without its port; IPv6 in brackets kept whole). */
function hostNameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(text);
}

/**
 * GET /metrics: the Prometheus text exposition, to whom may read it.
 *
 * - With a token: `Authorization: Bearer <token>` and nothing else; its
 *   digest is compared with the token's in constant time (digests have one
 *   length, so the comparison does not tell the token's length either).
 * - Without one: only a TCP peer on loopback, with a Host header naming a
 *   loopback host or the issuer's host — a web page in a browser on the same
 *   machine could otherwise read the metrics through a DNS name rebound to
 *   127.0.0.1 — and never behind a trusted proxy.
 *
 * Refusals say nothing about what is there: 401 (a token is configured) or 403.
 */
export function metricsEndpoint(options: MetricsEndpointOptions): NodeHandler {
  const expected = options.token ? digestOf(options.token) : undefined;
  const issuerHost = options.issuerHost?.toLowerCase();

  const allowed = (req: IncomingMessage): boolean => {
    if (expected) {
      const header = req.headers.authorization;
      if (typeof header !== 'string' || !/^bearer /i.test(header)) return false;
      return timingSafeEqual(digestOf(header.slice(7).trim()), expected);
    }
    if (options.behindProxy) return false;
    if (!isLoopbackHost(req.socket.remoteAddress ?? '')) return false;
    const host = (req.headers.host ?? '').toLowerCase();
    return isLoopbackHost(hostNameOf(host)) || (issuerHost !== undefined && host === issuerHost);
  };

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(res, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    if (!allowed(req)) {
      if (expected) answer(res, 401, 'Unauthorized\n', { 'WWW-Authenticate': 'Bearer realm="metrics"' });
      else answer(res, 403, 'Forbidden\n');
      return;
    }
    return options.metrics.scrape().then(({ contentType, body }) => {
      res.statusCode = 200;
      res.setHeader('Content-Type', contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.end(req.method === 'HEAD' ? undefined : body);
    }, () => {
      // a collector that failed: the scraper sees the scrape fail, nobody sees why (no stack to clients)
      if (!res.headersSent) answer(res, 500, 'Internal Server Error\n');
      else res.destroy();
    });
  };
}

/** The handler of a listener that serves /metrics only (config.metrics.port). */
export function metricsOnlyHandler(endpoint: NodeHandler): NodeHandler {
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path === METRICS_PATH) return endpoint(req, res);
    answer(res, 404, 'Not Found\n');
  };
}
