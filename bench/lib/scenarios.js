// The measurements that are not "one operation, A B A B": a latency probe at a fixed rate,
// client_credentials under a password-grant flood, two server processes against one, and
// memory (process RSS, Redis bytes per record).
import { readFile } from 'node:fs/promises';

import { median, pinProcess, round, runLoad } from './load.js';
import { measureOperation, passwordRequest } from './operations.js';
import { redisMemoryUsage } from './stores.js';

/** utime + stime of a process in seconds (Linux /proc), or undefined. */
export async function cpuSecondsOf(pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name, which may contain spaces: ") S ppid ..."
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Runs `fn` and reports how much CPU each pid and this process used meanwhile. */
export async function withCpuAccounting(pids, fn) {
  const before = await Promise.all(pids.map(cpuSecondsOf));
  const selfBefore = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  const wall = (performance.now() - t0) / 1000;
  const after = await Promise.all(pids.map(cpuSecondsOf));
  const self = process.cpuUsage(selfBefore);
  const cores = (a, b) => (a === undefined || b === undefined ? undefined : round((b - a) / wall, 2));
  return {
    result,
    cpu: {
      wallSeconds: round(wall, 2),
      // CPU time / wall time: 1.0 = one core busy for the whole run
      serverCores: pids.map((pid, i) => cores(before[i], after[i])),
      loadGeneratorCores: round((self.user + self.system) / 1e6 / wall, 2),
    },
  };
}

/**
 * Client_credentials at a fixed rate, alone and while a password-grant flood runs, rounds
 * alternating (alone, flood, alone, flood ...). The flood: `floodConnections` connections
 * sending password grants back to back for the whole window, so the hashing queue stays
 * full. Reports both latencies and the p99 ratio.
 */
export async function floodTest({
  instance, prepared, rate, connections, seconds, floodConnections, rounds, log, drainSeconds = 1.5,
}) {
  const alone = [];
  const flooded = [];
  const floods = [];
  const floodPrepared = { requests: [passwordRequest(instance, roundRobinOf(instance.passwordUsers))] };
  // Password grants still queued when a flood's connections close are hashed all the same
  // (up to maxQueued of them): let the server drain before measuring it alone.
  const drain = () => new Promise((res) => { setTimeout(res, drainSeconds * 1000); });
  for (let r = 0; r < rounds; r += 1) {
    await drain();
    const a = await measureOperation(runLoad, instance, prepared, { connections, durationSeconds: seconds, overallRate: rate });
    alone.push(a);
    log?.(`  flood round ${r + 1} alone    cc p50 ${a.p50} ms p99 ${a.p99} ms (${a.okRps} ok rps)`);
    // The flood starts first and outlasts the measured window on both ends.
    const flood = measureOperation(runLoad, instance, floodPrepared, {
      connections: floodConnections, durationSeconds: seconds + 1.5, timeoutSeconds: 30,
    });
    await new Promise((res) => { setTimeout(res, 700); });
    const f = await measureOperation(runLoad, instance, prepared, { connections, durationSeconds: seconds, overallRate: rate });
    flooded.push(f);
    const fl = await flood;
    floods.push(fl);
    log?.(`  flood round ${r + 1} flooded  cc p50 ${f.p50} ms p99 ${f.p99} ms (${f.okRps} ok rps); password ${fl.okRps} ok rps, non2xx ${fl.non2xx}, p50 ${fl.p50} ms`);
  }
  await drain(); // nothing of the flood left for whatever runs next on this core
  const summary = (runs) => ({
    okRps: median(runs.map((x) => x.okRps)),
    p50: median(runs.map((x) => x.p50)),
    p99: median(runs.map((x) => x.p99)),
    non2xx: runs.reduce((n, x) => n + x.non2xx, 0),
    errors: runs.reduce((n, x) => n + x.errors, 0),
  });
  const s = { alone: summary(alone), flooded: summary(flooded) };
  return {
    rate,
    connections,
    floodConnections,
    rounds: alone.length,
    alone: s.alone,
    flooded: s.flooded,
    flood: {
      okRps: median(floods.map((x) => x.okRps)),
      p50: median(floods.map((x) => x.p50)),
      non2xx: floods.reduce((n, x) => n + x.non2xx, 0),
      statusCodes: floods.map((x) => x.statusCodes),
    },
    p99Ratio: s.alone.p99 ? round(s.flooded.p99 / s.alone.p99, 2) : null,
    runs: { alone, flooded, floods },
  };
}

function roundRobinOf(items) {
  let i = 0;
  return () => items[(i++) % items.length];
}

/**
 * One process against two: the instance (pinned to `cpuA`) alone, then the instance plus a
 * replica on the same stores (pinned to `cpuB`), each with its own `connections` of load,
 * alternating one, two, one, two. The load generator is unpinned while both cores serve (it
 * has no core of its own then) and pinned back after.
 */
export async function scaleTest({
  instance, op, connections, seconds, rounds, cpuA, cpuB, loadCpu, allCpus, log,
}) {
  const replica = await instance.startReplica({ cpu: cpuB });
  try {
    const preparedA = await op.prepare(instance, { connections });
    // Tokens and clients live in the shared stores: the same request works at either process.
    const preparedB = preparedA;
    const one = [];
    const two = [];
    // warm the replica (JIT) before anything counts
    await measureOperation(runLoad, instance, preparedB, { connections, durationSeconds: 2, url: replica.url });
    for (let r = 0; r < rounds; r += 1) {
      const single = await withCpuAccounting([instance.pid], () => measureOperation(
        runLoad, instance, preparedA, { connections, durationSeconds: seconds },
      ));
      one.push({ ...single.result, cpu: single.cpu });
      log?.(`  scale round ${r + 1} one process   ${single.result.okRps} ok rps  (server ${single.cpu.serverCores.join('+')} cores, load generator ${single.cpu.loadGeneratorCores})`);

      if (allCpus !== undefined) pinProcess(allCpus);
      // The same `connections` per process: a process is kept as busy as the single one
      // (the load generator now shares the CPUs with the servers, and a closed-loop client
      // that waits for its CPU leaves a server with half the connections idle).
      const both = await withCpuAccounting([instance.pid, replica.pid], () => Promise.all([
        measureOperation(runLoad, instance, preparedA, { connections, durationSeconds: seconds }),
        measureOperation(runLoad, instance, preparedB, { connections, durationSeconds: seconds, url: replica.url }),
      ]));
      if (loadCpu !== undefined) pinProcess(loadCpu);
      const okRps = round(both.result.reduce((n, x) => n + x.okRps, 0));
      two.push({
        okRps,
        perProcess: both.result.map((x) => x.okRps),
        p50: both.result.map((x) => x.p50),
        p99: both.result.map((x) => x.p99),
        non2xx: both.result.reduce((n, x) => n + x.non2xx, 0),
        errors: both.result.reduce((n, x) => n + x.errors, 0),
        cpu: both.cpu,
      });
      log?.(`  scale round ${r + 1} two processes ${okRps} ok rps (${both.result.map((x) => x.okRps).join(' + ')})  (servers ${both.cpu.serverCores.join('+')} cores, load generator ${both.cpu.loadGeneratorCores})`);
    }
    const med = (runs, f) => median(runs.map(f));
    const oneRps = med(one, (x) => x.okRps);
    const twoRps = med(two, (x) => x.okRps);
    const serverCores = (runs) => med(runs, (x) => x.cpu.serverCores.reduce((a, b) => a + (b ?? 0), 0));
    return {
      operation: op.name,
      connections,
      one: {
        okRps: oneRps,
        serverCores: serverCores(one),
        loadGeneratorCores: med(one, (x) => x.cpu.loadGeneratorCores),
        okRpsPerServerCore: round(oneRps / (serverCores(one) || 1)),
      },
      two: {
        okRps: twoRps,
        serverCores: serverCores(two),
        loadGeneratorCores: med(two, (x) => x.cpu.loadGeneratorCores),
        okRpsPerServerCore: round(twoRps / (serverCores(two) || 1)),
      },
      ratio: oneRps ? round(twoRps / oneRps, 3) : null,
      runs: { one, two },
    };
  } finally {
    await replica.stop();
  }
}

/** RSS (current and peak) of every process of a target, in MiB. */
export async function processMemory(instance) {
  const out = [];
  for (const { name, pid } of instance.processes?.() ?? []) {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
      out.push({ name, pid, rssMiB: round(kib('VmRSS') / 1024, 1), peakRssMiB: round(kib('VmHWM') / 1024, 1) });
    } catch {
      out.push({ name, pid, error: 'process gone' });
    }
  }
  return out;
}

// Tessera's Redis key layout (src/tokens/redis-token-state.ts): "<keyPrefix>tessera:<Model>:<digest>".
const TOKEN_STATE = 'tessera:';
export const REDIS_KINDS = {
  session: { pattern: `${TOKEN_STATE}Session:*`, exclude: /^tessera:Session:uid:/ },
  sessionUidIndex: { pattern: `${TOKEN_STATE}Session:uid:*` },
  refreshToken: { pattern: `${TOKEN_STATE}RefreshToken:*` },
  opaqueAccessToken: { pattern: `${TOKEN_STATE}AccessToken:*` },
  clientCredentialsToken: { pattern: `${TOKEN_STATE}ClientCredentials:*` },
  grant: { pattern: `${TOKEN_STATE}Grant:*` },
  grantIndex: { pattern: `${TOKEN_STATE}grant:*` },
};

/** Redis bytes per record kind of a target with Redis token state. */
export async function redisMemory(instance) {
  const { url, prefix } = instance.redis;
  const usage = await redisMemoryUsage(url, prefix, REDIS_KINDS);
  const k = usage.kinds;
  const sum = (...xs) => (xs.every((x) => Number.isFinite(x)) ? xs.reduce((a, b) => a + b, 0) : null);
  usage.perRecord = {
    // a session is its record plus the uid → record index key
    session: sum(k.session.bytesMedian, k.sessionUidIndex.bytesMedian),
    refreshToken: k.refreshToken.bytesMedian,
    opaqueAccessToken: k.opaqueAccessToken.bytesMedian,
    clientCredentialsToken: k.clientCredentialsToken.bytesMedian,
    grant: k.grant.bytesMedian,
  };
  return usage;
}
