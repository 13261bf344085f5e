import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The process's own metrics, read at each scrape, under prom-client's default
 * names (dashboards made for them work): CPU, memory, heap, and the event
 * loop's lag. Not prom-client's collectDefaultMetrics: it also observes every
 * garbage collection (a PerformanceObserver), and in `npm run bench --
 * --metrics-cost` a server with it used 14% (client_credentials) and 16%
 * (introspection) more CPU per request than one without metrics, in 11 of 12
 * rounds; without it the differences fell inside the noise a control run shows
 * (docs/benchmarks.md; a noisy shared machine, so a suspicion, not a proof). Everything here
 * costs nothing between scrapes except the lag sampler (a timer every 10 ms).
 */
/** Returns what stops the lag sampler. */
export function registerProcessMetrics(registry: Registry): () => void {
  const startedAt = Date.now() / 1000 - process.uptime();
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();

  const gauge = (name: string, help: string, read: () => number) => new Gauge({
    name, help, registers: [registry], collect() { this.set(read()); },
  });

  new Counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds',
    registers: [registry],
    collect() {
      const { user, system } = process.cpuUsage();
      this.reset();
      this.inc((user + system) / 1e6);
    },
  });
  gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds', () => Math.round(startedAt));
  gauge('process_resident_memory_bytes', 'Resident memory size in bytes', () => process.memoryUsage.rss());
  gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes', () => process.memoryUsage().heapTotal);
  gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes', () => process.memoryUsage().heapUsed);
  gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes', () => process.memoryUsage().external);

  // lag since the previous scrape: the sampler is reset after each read
  let snapshot = { min: 0, max: 0, mean: 0, p50: 0, p90: 0, p99: 0 };
  const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
  new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Mean event loop delay since the previous scrape, in seconds (sampled every 10 ms)',
    registers: [registry],
    collect() {
      snapshot = {
        min: seconds(lag.min), max: seconds(lag.max), mean: seconds(lag.mean),
        p50: seconds(lag.percentile(50)), p90: seconds(lag.percentile(90)), p99: seconds(lag.percentile(99)),
      };
      lag.reset();
      this.set(snapshot.mean);
    },
  });
  // read after nodejs_eventloop_lag_seconds (registration order is collection order)
  for (const key of ['min', 'max', 'p50', 'p90', 'p99'] as const) {
    gauge(`nodejs_eventloop_lag_${key}_seconds`, `The ${key} of the event loop delay since the previous scrape, in seconds`, () => snapshot[key]);
  }
  return () => lag.disable();
}
