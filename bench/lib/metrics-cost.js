// `npm run bench -- --metrics-cost`: what the Prometheus metrics (src/observability/) cost.
//
// 1. Over HTTP: two `tessera serve` processes of the same target, one with metrics on (the
//    default) and one with them off (CONFIG_FILE {"metrics":{"enabled":false}}), both pinned
//    to the server CPU, measured in turn with an A B B A order per pair of rounds so that drift
//    of a shared machine falls on both alike, in two sessions that start the two in opposite
//    orders. Per round the ratios on ÷ off of the throughput and of the server's CPU time per
//    request (/proc); their medians are the figures. /metrics is scraped after each run with
//    metrics on, as Prometheus would, and the scrape shows the requests counted.
//    --metrics-control starts both with metrics on: the ratios then show the noise.
// 2. In process: nanoseconds per observation of what a request pays (the front door's
//    request counter and histogram, the timing of one token state operation).
import { EventEmitter } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { median, round, runLoad } from './load.js';
import { OPERATIONS, measureOperation } from './operations.js';

// introspect_opaque (a token state read per request) with --ops
export const METRICS_COST_OPS = ['client_credentials_jwt', 'introspect_jwt'];

/**
 * CPU seconds a process has used (user + system, all its threads), from /proc: undefined
 * where there is none. On a machine shared with other work the rate a server reaches depends
 * on the share of the CPU it gets; the CPU time it spends per request does much less so.
 */
async function cpuSecondsOf(pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) in parentheses: utime is the 14th field, stime the 15th
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Counts tokens issued and requests answered at /token, from a scrape (loopback, no token: allowed). */
async function scrapeCounts(url) {
  const res = await fetch(`${url}/metrics`);
  if (res.status === 404) return undefined;
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
  const metrics = createMetrics({ processMetrics: false });
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
  // tokens issued: the provider's grant.success, as oidc-provider emits it
  const provider = new EventEmitter();
  metrics.watchProvider(provider);
  const ctx = { oidc: { params: { grant_type: 'client_credentials' } } };
  const tokensIssued = await nsPerCall(() => provider.emit('grant.success', ctx), 200_000);
  const scrapeStarted = performance.now();
  const { body } = await metrics.scrape();
  return {
    observeRequestNs: observeRequest,
    tokensIssuedNs: tokensIssued,
    storeOperationTimingNs: round(timedHas - bareHas, 0),
    scrapeMs: round(performance.now() - scrapeStarted, 2),
    scrapeBytes: body.length,
  };
}

/**
 * @param {{ target: object, jwksFile: string, workDir: string, cpu?: string|number, connections: number,
 *           durationSeconds: number, rounds: number, warmupSeconds: number, ops?: string[],
 *           control?: boolean, log: (msg: string) => void,
 *           track: (entry: { name: string, instance: object }) => void, untrack: (instance: object) => void }} options
 */
export async function measureMetricsCost(options) {
  const {
    target, jwksFile, workDir, cpu, connections, durationSeconds, rounds, warmupSeconds, log, track, untrack,
  } = options;

  const wanted = new Set(options.ops ?? METRICS_COST_OPS);
  const ops = OPERATIONS.filter((o) => wanted.has(o.name));
  const result = { target: target.name, control: Boolean(options.control), connections, durationSeconds, operations: {} };
  const perOp = Object.fromEntries(ops.map((op) => [op.name, {
    runs: { on: [], off: [] }, cpuPerRequest: { on: [], off: [] }, ratios: [], cpuRatios: [], scraped: undefined,
  }]));

  // Two sessions with the processes started in opposite orders (on first, then off first),
  // half of the rounds each: a control run (both on) showed the first-started process slower
  // by more than any cost of the metrics, for no reason of its own; swapping cancels that.
  const sessions = [['on', 'off'], ['off', 'on']];
  for (const [s, startOrder] of sessions.entries()) {
    log(`metrics cost: session ${s + 1}/2: starting ${target.name} twice (${startOrder.join(', then ')})`);
    // the off process: its config file says metrics.enabled false (the rest as every target's: rate limits never reached)
    const config = { on: {}, off: options.control ? {} : { metrics: { enabled: false } } };
    // started together (as the main bench starts its targets), the first named spawned first
    const started = {};
    const outcomes = await Promise.allSettled(startOrder.map(async (name) => {
      started[name] = await target.start({ jwksFile, cpu, workDir: join(workDir, `session-${s + 1}-metrics-${name}`), config: config[name] });
      track({ name: `${target.name} (metrics ${name}, session ${s + 1})`, instance: started[name] });
    }));
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
    const { off } = started;
    try {
      const offAnswer = await fetch(`${off.url}/metrics`);
      if (offAnswer.status !== (options.control ? 200 : 404)) throw new Error(`metrics off: /metrics answered ${offAnswer.status}`);
      if (options.control) log('metrics cost: control run (--metrics-control): both processes have metrics on; the ratios show the noise');
      // in the session's order: the first started is also prepared, warmed and measured first
      const variants = startOrder.map((name) => ({ name, instance: started[name] }));
      const sessionRounds = s === 0 ? Math.ceil(rounds / 2) : Math.floor(rounds / 2);
      for (const op of ops) {
        const { runs, cpuPerRequest, ratios, cpuRatios } = perOp[op.name];
        const prepared = {};
        for (const v of variants) {
          prepared[v.name] = await op.prepare(v.instance, { connections });
          // warm-up: JIT tiers, heap growth, first use of each route
          await measureOperation(runLoad, v.instance, prepared[v.name], { connections, durationSeconds: Math.max(warmupSeconds, 1.5) });
        }
        for (let r = 0; r < sessionRounds; r += 1) {
          const order = r % 2 === 0 ? variants : [...variants].reverse();
          const round_ = {};
          const cpu_ = {};
          for (const v of order) {
            const cpuBefore = await cpuSecondsOf(v.instance.pid);
            const run = await measureOperation(runLoad, v.instance, prepared[v.name], { connections, durationSeconds });
            const cpuAfter = await cpuSecondsOf(v.instance.pid);
            round_[v.name] = run.okRps;
            runs[v.name].push(run.okRps);
            // microseconds of server CPU per valid answer
            const valid = run.okRps * run.durationSeconds;
            cpu_[v.name] = cpuBefore !== undefined && cpuAfter !== undefined && valid > 0 ? ((cpuAfter - cpuBefore) * 1e6) / valid : undefined;
            cpuPerRequest[v.name].push(cpu_[v.name] === undefined ? undefined : round(cpu_[v.name], 0));
            // as Prometheus would, now and then, and proof that the metrics were on and counting;
            // the other process is asked too (404 when its metrics are off), so both are treated alike
            const scrape = await scrapeCounts(v.instance.url);
            if (v.name === 'on') perOp[op.name].scraped = scrape;
          }
          ratios.push(round_.on / round_.off);
          if (cpu_.on !== undefined && cpu_.off !== undefined) cpuRatios.push(cpu_.on / cpu_.off);
          log(`metrics cost: ${op.name} session ${s + 1} round ${r + 1}: on ${round_.on} rps, off ${round_.off} rps (${round(round_.on / round_.off, 3)}); `
            + `server CPU per request on ${round(cpu_.on, 0)} µs, off ${round(cpu_.off, 0)} µs`);
        }
      }
    } finally {
      for (const name of startOrder) {
        await started[name]?.stop().catch(() => {});
        untrack(started[name]);
      }
    }
  }

  for (const op of ops) {
    const { runs, cpuPerRequest, ratios, cpuRatios, scraped } = perOp[op.name];
    const ratio = median(ratios);
    const cpuRatio = median(cpuRatios);
    result.operations[op.name] = {
      title: op.title,
      onRps: runs.on,
      offRps: runs.off,
      medianOnRps: median(runs.on),
      medianOffRps: median(runs.off),
      ratios: ratios.map((x) => round(x, 3)),
      ratio: round(ratio, 3),
      costPercent: round((1 - ratio) * 100, 1),
      cpuMicrosPerRequestOn: cpuPerRequest.on,
      cpuMicrosPerRequestOff: cpuPerRequest.off,
      medianCpuMicrosOn: median(cpuPerRequest.on),
      medianCpuMicrosOff: median(cpuPerRequest.off),
      cpuRatios: cpuRatios.map((x) => round(x, 3)),
      cpuRatio: round(cpuRatio, 3),
      cpuCostPercent: cpuRatio === undefined ? undefined : round((cpuRatio - 1) * 100, 1),
      scrapeAfterLastRun: scraped,
    };
  }
  result.inProcess = await microbenchmark();
  // What each request of an operation pays for the instruments, as a share of the server CPU
  // time a request costs with metrics off: the front door's counter and histogram, plus a
  // token counted (client_credentials) or a timed denylist lookup (JWT introspection) or
  // timed store read (opaque introspection).
  const extra = {
    client_credentials_jwt: result.inProcess.tokensIssuedNs,
    client_credentials_opaque: result.inProcess.tokensIssuedNs + result.inProcess.storeOperationTimingNs,
    introspect_jwt: result.inProcess.storeOperationTimingNs,
    introspect_opaque: result.inProcess.storeOperationTimingNs,
  };
  for (const [name, op] of Object.entries(result.operations)) {
    const ns = result.inProcess.observeRequestNs + (extra[name] ?? 0);
    op.instrumentNsPerRequest = ns;
    op.instrumentSharePercent = op.medianCpuMicrosOff ? round((ns / (op.medianCpuMicrosOff * 1000)) * 100, 2) : undefined;
  }
  return result;
}

export function metricsCostReport(result) {
  const lines = [`Metrics cost (${result.target}, ${result.connections} connections, ${result.durationSeconds} s runs, A B B A)${result.control ? ' — CONTROL RUN: both processes have metrics on' : ''}:`, ''];
  lines.push('Throughput (2xx per second; cost = 1 − median of the per-round ratios on ÷ off):', '');
  lines.push('| operation | metrics on (median rps) | metrics off (median rps) | median ratio on/off | cost | per-round ratios |');
  lines.push('|---|---|---|---|---|---|');
  for (const [name, op] of Object.entries(result.operations)) {
    lines.push(`| ${name} | ${op.medianOnRps} | ${op.medianOffRps} | ${op.ratio} | ${op.costPercent}% | ${op.ratios.join(', ')} |`);
  }
  lines.push('', 'Server CPU time per request (µs, /proc; cost = median of the per-round ratios on ÷ off − 1):', '');
  lines.push('| operation | metrics on (median µs) | metrics off (median µs) | median ratio on/off | cost | per-round ratios |');
  lines.push('|---|---|---|---|---|---|');
  for (const [name, op] of Object.entries(result.operations)) {
    lines.push(`| ${name} | ${op.medianCpuMicrosOn ?? '–'} | ${op.medianCpuMicrosOff ?? '–'} | ${op.cpuRatio ?? '–'} | ${op.cpuCostPercent ?? '–'}% | ${op.cpuRatios.join(', ')} |`);
  }
  const p = result.inProcess;
  lines.push('', `In process: request counter + histogram ${p.observeRequestNs} ns per request; a token counted ${p.tokensIssuedNs} ns; timing a token state operation ${p.storeOperationTimingNs} ns; a scrape of a fresh registry ${p.scrapeMs} ms (${p.scrapeBytes} bytes).`);
  lines.push('', 'The instruments per request, as a share of its server CPU time with metrics off:', '');
  lines.push('| operation | instruments (ns per request) | share of the request\'s CPU time |');
  lines.push('|---|---|---|');
  for (const [name, op] of Object.entries(result.operations)) {
    lines.push(`| ${name} | ${op.instrumentNsPerRequest} | ${op.instrumentSharePercent ?? '–'}% |`);
  }
  return `${lines.join('\n')}\n`;
}
