// Process control and load generation for the benchmarks:
//   startServer / stopServer — a server child process, optionally pinned to a CPU, ready when
//                              it prints a line matching `ready` (default `READY <port>`)
//   runLoad                  — one autocannon run of fixed duration and connections
//   alternate                — the A B A B ... driver that turns runs into per-target medians
//                              and ratios against a reference target
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import autocannon from 'autocannon';

let tasksetPath;
/** Absolute path of `taskset`, or null when CPU pinning is not available here. */
export function tasksetAvailable() {
  if (tasksetPath === undefined) {
    const probe = spawnSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' });
    tasksetPath = probe.status === 0 && probe.stdout.trim() ? probe.stdout.trim() : null;
  }
  return tasksetPath;
}

/** Pins an existing process (default: this one) to `cpu`; returns whether that worked. */
export function pinProcess(cpu, pid = process.pid) {
  const taskset = tasksetAvailable();
  if (!taskset || cpu === undefined || cpu === null) return false;
  // -a: every thread, including libuv's pool and V8's helpers that already exist.
  return spawnSync(taskset, ['-a', '-cp', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0;
}

export function getFreePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const running = new Set();

/**
 * Starts `command args...` (pinned with `taskset -c cpu` when `cpu` is given and taskset
 * exists), resolves once a stdout/stderr line matches `ready` (its first capture group, if
 * any, is returned as `port`) or, with `readyUrl`, once a GET of that URL answers 200.
 * Output is kept (last `keepLines` lines) for diagnostics; with `stdoutFile`, stdout goes to
 * that file instead.
 */
export function startServer({
  name = 'server',
  command = process.execPath,
  args = [],
  env = {},
  cwd,
  cpu,
  ready = /^READY (\d+)/,
  readyUrl,
  timeoutMs = 30_000,
  keepLines = 200,
  stdoutFile,
}) {
  const taskset = cpu !== undefined && cpu !== null ? tasksetAvailable() : null;
  const [cmd, argv] = taskset
    ? [taskset, ['-c', String(cpu), command, ...args]]
    : [command, args];
  // stdoutFile: the server's stdout (e.g. an access log) goes to that file, as it would to
  // a log file or collector, instead of through this process.
  const stdoutFd = stdoutFile ? openSync(stdoutFile, 'a') : undefined;
  const child = spawn(cmd, argv, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
  });
  if (stdoutFd !== undefined) closeSync(stdoutFd);
  const log = [];
  const server = {
    name,
    child,
    pid: child.pid,
    pinned: Boolean(taskset),
    cpu: taskset ? cpu : undefined,
    log,
    exited: false,
    port: undefined,
    stop: () => stopServer(server),
  };
  running.add(server);

  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      stopServer(server);
      reject(new Error(`${name}: not ready after ${timeoutMs} ms\n${log.slice(-20).join('\n')}`));
    }, timeoutMs);

    const onLine = (line) => {
      log.push(line);
      if (log.length > keepLines) log.shift();
      if (settled || !ready) return;
      const match = ready.exec(line);
      if (match) {
        settled = true;
        clearTimeout(timer);
        server.port = match[1] !== undefined ? Number(match[1]) : undefined;
        resolve(server);
      }
    };
    for (const stream of [child.stdout, child.stderr].filter(Boolean)) {
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        buffered += chunk;
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          onLine(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
      });
    }
    if (readyUrl) {
      (async () => {
        while (!settled) {
          try {
            const res = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
            await res.arrayBuffer();
            if (res.status === 200 && !settled) {
              settled = true;
              clearTimeout(timer);
              server.port ??= Number(new URL(readyUrl).port) || undefined;
              resolve(server);
              return;
            }
          } catch { /* not listening yet */ }
          await new Promise((r) => { setTimeout(r, 200); });
        }
      })();
    }
    child.once('error', (err) => {
      server.exited = true;
      running.delete(server);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      server.exited = true;
      running.delete(server);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${name}: exited before ready (code ${code}, signal ${signal})\n${log.slice(-20).join('\n')}`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export function stopServer(server, graceMs = 3000) {
  const { child } = server;
  if (server.exited || child.exitCode !== null || child.signalCode !== null) {
    running.delete(server);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(killer);
      server.exited = true;
      running.delete(server);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Synchronous last resort for process exit handlers: kill what we started, by pid. */
export function killAllStartedSync() {
  for (const server of running) {
    try { server.child.kill('SIGKILL'); } catch { /* already gone */ }
  }
  running.clear();
}

export async function stopAllStarted() {
  await Promise.all([...running].map((s) => stopServer(s)));
}

/**
 * One autocannon run. `requests` is autocannon's request list (use `setupRequest` to build
 * a body per request, `onResponse` to consume answers); or pass `method/path/headers/body`,
 * where `body` may be a function called for every request (a body factory).
 * `overallRate` caps the requests per second over all connections (autocannon releases each
 * connection's share at the start of every second, one request at a time per connection).
 * Returns requests/sec (all answers and 2xx only), latency p50/p99 in ms of the 2xx answers
 * (taken from autocannon's per-response timings, so below a millisecond too), error counts.
 */
export async function runLoad({
  url,
  durationSeconds = 5,
  connections = 10,
  pipelining = 1,
  timeoutSeconds = 10,
  overallRate,
  requests,
  method,
  path,
  headers,
  body,
}) {
  const latencies = [];
  const tracker = autocannon({
    url,
    duration: durationSeconds,
    connections,
    pipelining,
    timeout: timeoutSeconds,
    ...(overallRate ? { overallRate: Math.max(1, Math.round(overallRate)), ignoreCoordinatedOmission: true } : {}),
    requests: requests ?? [typeof body === 'function'
      ? { method: method ?? 'POST', path: path ?? '/', headers, setupRequest: (req) => ({ ...req, body: body() }) }
      : { method: method ?? 'GET', path: path ?? '/', headers, body }],
  });
  tracker.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const result = await tracker;
  const seconds = result.duration || durationSeconds;
  const ok = result['2xx'] ?? 0;
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length
    ? round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))], 2)
    : undefined);
  return {
    rps: round((result.requests?.total ?? 0) / seconds),
    okRps: round(ok / seconds),
    p50: pct(0.5),
    p99: pct(0.99),
    requests: result.requests?.total ?? 0,
    ok,
    non2xx: result.non2xx ?? 0,
    errors: result.errors ?? 0,
    timeouts: result.timeouts ?? 0,
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]),
    ),
    durationSeconds: round(seconds, 2),
    ...(overallRate ? { overallRate: Math.round(overallRate), connections } : {}),
  };
}

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (!sorted.length) return undefined;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function round(value, digits = 1) {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * The A/B alternation driver. `targets` is `[{ name, ...anything }]`; for each round it runs
 * `measure(target, round)` once per target in order (A B A B ...), so slow drift of a noisy
 * machine hits every target alike. `warmup(target)` runs once per target before round 0.
 * `shouldContinue()` may stop early (time budget). Reports per-target medians and the ratio
 * of each target's median 2xx rps to the reference target's (default: the first).
 */
export async function alternate({
  targets,
  rounds,
  measure,
  warmup,
  reference = targets[0]?.name,
  shouldContinue = () => true,
  onRun = () => {},
  // A B B A A B ...: a drift within a round falls on both alike (two targets compared closely)
  abba = false,
}) {
  const runs = Object.fromEntries(targets.map((t) => [t.name, []]));
  const failures = {};
  if (warmup) {
    for (const target of targets) {
      try {
        await warmup(target);
      } catch (err) {
        failures[target.name] = String(err?.message ?? err);
      }
    }
  }
  let completedRounds = 0;
  for (let r = 0; r < rounds; r += 1) {
    if (r > 0 && !shouldContinue()) break;
    for (const target of abba && r % 2 ? [...targets].reverse() : targets) {
      if (failures[target.name]) continue;
      try {
        const run = await measure(target, r);
        runs[target.name].push(run);
        onRun(target, r, run);
      } catch (err) {
        failures[target.name] = String(err?.message ?? err);
      }
    }
    completedRounds += 1;
  }

  const summary = {};
  for (const { name } of targets) {
    const list = runs[name];
    summary[name] = list.length ? {
      rounds: list.length,
      rps: round(median(list.map((r) => r.rps))),
      okRps: round(median(list.map((r) => r.okRps))),
      // (max - min) / median of the runs: how much to trust a ratio near 1.
      spread: round((Math.max(...list.map((r) => r.okRps)) - Math.min(...list.map((r) => r.okRps)))
        / (median(list.map((r) => r.okRps)) || 1), 3),
      p50: median(list.map((r) => r.p50)),
      p99: median(list.map((r) => r.p99)),
      errors: list.reduce((n, r) => n + r.errors, 0),
      non2xx: list.reduce((n, r) => n + r.non2xx, 0),
      runs: list,
    } : { rounds: 0, error: failures[name] ?? 'not run' };
    if (failures[name] && list.length) summary[name].error = failures[name];
  }
  const refRps = summary[reference]?.okRps;
  const ratios = {};
  for (const { name } of targets) {
    const rps = summary[name]?.okRps;
    ratios[name] = refRps && Number.isFinite(rps) ? round(rps / refRps, 3) : null;
  }
  return { reference, rounds: completedRounds, targets: summary, ratios };
}
