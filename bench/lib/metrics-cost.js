// `npm run bench -- --metrics-cost`: what the Prometheus metrics (src/observability/) cost.
//
// 1. Over HTTP: two `tessera serve` processes of the same target, one with metrics on (the
//    default) and one with them off (CONFIG_FILE {"metrics":{"enabled":false}}), both pinned
//    to the server CPU, measured in turn with an A B B A order per pair of rounds so that drift
//    of a shared machine falls on both alike. Per round the ratio on ÷ off; its median is the
//    figure (cost = 1 − ratio). /metrics is scraped once after each run with metrics on, as
//    Prometheus would, and the scrape is checked to have counted the requests.
// 2. In process: nanoseconds per observation of what a request pays (the front door's
//    request counter and histogram, the timing of one token state operation).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { median, round, runLoad } from './load.js';
import { OPERATIONS, measureOperation } from './operations.js';

export const METRICS_COST_OPS = ['client_credentials_jwt', 'introspect_jwt', 'introspect_opaque'];

/** Counts tokens issued and requests answered at /token, from a scrape (loopback, no token: allowed). */
async function scrapeCounts(url) {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  const total = (pattern) => text.split('\n').filter((line) => pattern.test(line))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return {
    requests: total(/^tessera_http_requests_total\{/),
    tokens: total(/^tessera_tokens_issued_total\{/),
    bytes: text.length,
  };
}

/** ns per call of fn (awaited when `awaited`), over `iterations` calls after a warm-up (median of 5 batches). */
async function nsPerCall(fn, iterations, awaited = false) {
  const batches = [];
  for (let b = 0; b < 6; b += 1) {
    const started = process.hrtime.bigint();
    if (awaited) for (let i = 0; i < iterations; i += 1) await fn(i);
    else for (let i = 0; i < iterations; i += 1) fn(i);
    // the first batch warms up (JIT)
    if (b > 0) batches.push(Number(process.hrtime.bigint() - started) / iterations);
  }
  return round(median(batches), 0);
}

/** The in-process cost of the instruments a request pays for. */
export async function microbenchmark() {
  const { createMetrics } = await import('../../src/observability/metrics.ts');
  const metrics = createMetrics({ defaultMetrics: false });
  const paths = ['/token', '/token/introspection', '/interaction/Xa9b/login', '/jwks', '/no/such/path'];
  const observeRequest = await nsPerCall((i) => { metrics.observeRequest('POST', paths[i % paths.length], 200, 0.0012); }, 200_000);
  const fakeState = {
    kind: 'sql',
    adapterFactory: () => ({ find: async () => undefined }),
    denylist: { add: async () => {}, has: async () => false },
  };
  const measured = metrics.measureTokenState(fakeState);
  const bareHas = await nsPerCall(() => fakeState.denylist.has('jti'), 200_000, true);
  const timedHas = await nsPerCall(() => measured.denylist.has('jti'), 200_000, true);
  const scrapeStarted = performance.now();
  const { body } = await metrics.scrape();
  return {
    observeRequestNs: observeRequest,
    storeOperationTimingNs: round(timedHas - bareHas, 0),
    scrapeMs: round(performance.now() - scrapeStarted, 2),
    scrapeBytes: body.length,
  };
}

/**
 * @param {{ target: object, jwksFile: string, workDir: string, cpu?: string|number, connections: number,
 *           durationSeconds: number, rounds: number, warmupSeconds: number, ops?: string[],
 *           log: (msg: string) => void, track: (entry: { name: string, instance: object }) => void }} options
 */
export async function measureMetricsCost(options) {
  const {
    target, jwksFile, workDir, cpu, connections, durationSeconds, rounds, warmupSeconds, log, track,
  } = options;
  const offConfig = join(workDir, 'metrics-off.json');
  await writeFile(offConfig, JSON.stringify({ metrics: { enabled: false } }));

  log(`metrics cost: starting ${target.name} twice (metrics on, metrics off)`);
  const [on, off] = await Promise.all([
    target.start({ jwksFile, cpu, workDir: join(workDir, 'metrics-on') }),
    target.start({ jwksFile, cpu, workDir: join(workDir, 'metrics-off'), env: { CONFIG_FILE: offConfig } }),
  ]);
  track({ name: `${target.name} (metrics on)`, instance: on });
  track({ name: `${target.name} (metrics off)`, instance: off });
  const offAnswer = await fetch(`${off.url}/metrics`);
  if (offAnswer.status !== 404) throw new Error(`metrics off: /metrics answered ${offAnswer.status}`);

  const variants = [{ name: 'on', instance: on }, { name: 'off', instance: off }];
  const wanted = new Set(options.ops ?? METRICS_COST_OPS);
  const result = { target: target.name, connections, durationSeconds, operations: {} };
  for (const op of OPERATIONS.filter((o) => wanted.has(o.name))) {
    const prepared = {};
    for (const v of variants) {
      prepared[v.name] = await op.prepare(v.instance, { connections });
      // warm-up: JIT tiers, heap growth, first use of each route
      await measureOperation(runLoad, v.instance, prepared[v.name], { connections, durationSeconds: Math.max(warmupSeconds, 1.5) });
    }
    const runs = { on: [], off: [] };
    const ratios = [];
    let scraped;
    for (let r = 0; r < rounds; r += 1) {
      const order = r % 2 === 0 ? variants : [...variants].reverse();
      const round_ = {};
      for (const v of order) {
        const run = await measureOperation(runLoad, v.instance, prepared[v.name], { connections, durationSeconds });
        round_[v.name] = run.okRps;
        runs[v.name].push(run.okRps);
        if (v.name === 'on') scraped = await scrapeCounts(on.url);
      }
      ratios.push(round_.on / round_.off);
      log(`metrics cost: ${op.name} round ${r + 1}: on ${round_.on} rps, off ${round_.off} rps (${round(round_.on / round_.off, 3)})`);
    }
    const ratio = median(ratios);
    result.operations[op.name] = {
      title: op.title,
      onRps: runs.on,
      offRps: runs.off,
      medianOnRps: median(runs.on),
      medianOffRps: median(runs.off),
      ratios: ratios.map((x) => round(x, 3)),
      ratio: round(ratio, 3),
      costPercent: round((1 - ratio) * 100, 1),
      scrapeAfterLastRun: scraped,
    };
  }
  result.inProcess = await microbenchmark();
  return result;
}

export function metricsCostReport(result) {
  const lines = [`Metrics cost (${result.target}, ${result.connections} connections, ${result.durationSeconds} s runs, A B B A):`, ''];
  lines.push('| operation | metrics on (median rps) | metrics off (median rps) | median ratio on/off | cost | per-round ratios |');
  lines.push('|---|---|---|---|---|---|');
  for (const [name, op] of Object.entries(result.operations)) {
    lines.push(`| ${name} | ${op.medianOnRps} | ${op.medianOffRps} | ${op.ratio} | ${op.costPercent}% | ${op.ratios.join(', ')} |`);
  }
  const p = result.inProcess;
  lines.push('', `In process: request counter + histogram ${p.observeRequestNs} ns per request; timing a token state operation ${p.storeOperationTimingNs} ns; a scrape of a fresh registry ${p.scrapeMs} ms (${p.scrapeBytes} bytes).`);
  return `${lines.join('\n')}\n`;
}
