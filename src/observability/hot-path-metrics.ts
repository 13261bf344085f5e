import { Counter, Histogram, type Registry } from 'prom-client';
import { methodLabelOf, routeLabelOf, statusLabelOf } from './route-labels.ts';

/** Seconds: from a fast introspection (~1 ms) to a password sign-in under load. */
export const REQUEST_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type RequestObserver = (method: string | undefined, path: string, status: number, seconds: number) => void;

/**
 * Requests by route template, method and status, and their durations, counted
 * once per response by the front door. This runs on every request (the
 * token endpoint's throughput is benchmarked), so the labelled children are
 * looked up once per combination and kept: prom-client would otherwise build
 * and hash a label key on each observation. The label values are bounded
 * (route-labels.ts), so these maps are too.
 */
export function createRequestMetrics(registry: Registry): RequestObserver {
  const requests = new Counter({
    name: 'tessera_http_requests_total',
    help: 'HTTP requests answered, by route template, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'Time from the request reaching Tessera to its response being finished or abandoned, by route template and method',
    labelNames: ['route', 'method'] as const,
    buckets: REQUEST_DURATION_BUCKETS,
    registers: [registry],
  });

  const counters = new Map<string, { inc(): void }>();
  const histograms = new Map<string, { observe(value: number): void }>();

  return (rawMethod, path, rawStatus, seconds) => {
    const route = routeLabelOf(path);
    const method = methodLabelOf(rawMethod);
    const routeKey = `${method} ${route}`;
    const counterKey = `${rawStatus} ${routeKey}`;
    let counter = counters.get(counterKey);
    if (!counter) {
      counter = requests.labels(route, method, statusLabelOf(rawStatus));
      counters.set(counterKey, counter);
    }
    counter.inc();
    let histogram = histograms.get(routeKey);
    if (!histogram) {
      histogram = durations.labels(route, method);
      histograms.set(routeKey, histogram);
    }
    histogram.observe(seconds);
  };
}
