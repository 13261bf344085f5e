// `npm run bench`: bounded loopback benchmarks of Tessera against the bare oidc-provider.
//
//   npm run bench -- [--duration 3] [--connections 10] [--rounds 3] [--warmup 0.5]
//                    [--ops a,b] [--targets a,b] [--floor-seconds 1.5] [--skip-floors]
//                    [--latency-seconds 1.5] [--latency-fraction 0.25] [--latency-connections 1]
//                    [--flood-seconds 2.5] [--flood-connections 64] [--skip-flood]
//                    [--scale-op client_credentials_jwt] [--skip-scale]
//                    [--budget 265] [--out bench/results.json] [--markdown FILE]
//   npm run bench -- --compare-rate-limits [--targets pg-redis-limits-off,pg-redis-limits-on]
//                    client_credentials and introspection with every rate limit off and on,
//                    ABBA order, ratios on/off, and the limiter's in-process cost per request
//   npm run bench -- --metrics-cost [--metrics-target tessera-embedded] [--rounds 4] [--duration 2.5]
//                    [--metrics-control]: what the Prometheus metrics cost: metrics on ÷ off
//                    (bench/lib/metrics-cost.js); --metrics-control runs both with metrics on
//   npm run bench -- --base-checkout DIR [--targets base-embedded,head-embedded]
//                    client_credentials and introspection of an older commit's checkout (DIR,
//                    e.g. `git worktree add DIR COMMIT` with node_modules linked) and of this
//                    one, A B A B in one run: ratios head/base per store layout
//
// Servers run pinned to CPU 0 and this process (the load generator) to CPU 1 when taskset
// exists and there are two CPUs or more. Targets are measured A B A B ... per operation so
// the drift of a shared machine falls on all of them alike; medians and ratios to the
// reference (first) target are what to read. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import {
  cpus, loadavg, platform, release, tmpdir,
} from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { runFloorsInChild } from './lib/floors.js';
import { ensureBenchJwks } from './lib/keys.js';
import {
  alternate, killAllStartedSync, pinProcess, round, runLoad, stopAllStarted, tasksetAvailable,
} from './lib/load.js';
import { OPERATIONS, measureOperation } from './lib/operations.js';
import { evaluateGoals, markdownReport, textReport } from './lib/report.js';
import {
  cpuSecondsOf, floodTest, processMemory, redisMemory, scaleTest,
} from './lib/scenarios.js';
import { TARGETS } from './targets/index.js';
import { RATE_LIMIT_COMPARISON_TARGETS, checkoutComparisonTargets } from './targets/tessera.js';
import { rateLimitCostMicroseconds } from './lib/rate-limit-cost.js';

const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
const log = (msg) => process.stderr.write(`[bench ${elapsed().toFixed(0).padStart(3)}s] ${msg}\n`);

const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 22) {
  process.stderr.write(`bench needs Node 22+ (oidc-provider 9), this is ${process.version}; run it with \`npm run bench\`.\n`);
  process.exit(1);
}

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '0.5' },
    ops: { type: 'string' },
    targets: { type: 'string' },
    'floor-seconds': { type: 'string', default: '1.5' },
    'skip-floors': { type: 'boolean', default: false },
    'latency-seconds': { type: 'string', default: '1.5' },
    'latency-fraction': { type: 'string', default: '0.25' },
    'latency-connections': { type: 'string', default: '1' },
    'flood-seconds': { type: 'string', default: '2.5' },
    'flood-connections': { type: 'string', default: '64' },
    'skip-flood': { type: 'boolean', default: false },
    'scale-op': { type: 'string', default: 'client_credentials_jwt' },
    'skip-scale': { type: 'boolean', default: false },
    'skip-memory': { type: 'boolean', default: false },
    budget: { type: 'string', default: '265' },
    out: { type: 'string', default: fileURLToPath(new URL('./results.json', import.meta.url)) },
    markdown: { type: 'string' },
    'compare-rate-limits': { type: 'boolean', default: false },
    'metrics-cost': { type: 'boolean', default: false },
    'metrics-target': { type: 'string', default: 'tessera-embedded' },
    'metrics-control': { type: 'boolean', default: false },
    'base-checkout': { type: 'string' },
  },
});
const compareRateLimits = opt['compare-rate-limits'];
const baseCheckout = opt['base-checkout'];
if (compareRateLimits || baseCheckout) {
  // only the operations on the hot path, only the pairs of targets that differ by the limits
  opt['skip-floors'] = true;
  opt['skip-flood'] = true;
  opt['skip-scale'] = true;
  opt['skip-memory'] = true;
  opt.ops ??= 'client_credentials_jwt,introspect_jwt,introspect_opaque';
}

const durationSeconds = Number(opt.duration);
const connections = Number(opt.connections);
const maxRounds = Math.max(1, Number(opt.rounds));
const warmupSeconds = Number(opt.warmup);
const budgetSeconds = Number(opt.budget);
const floorSeconds = Number(opt['floor-seconds']);
const latencySeconds = Number(opt['latency-seconds']);
const latencyFraction = Number(opt['latency-fraction']);
const latencyConnections = Number(opt['latency-connections']);
const floodSeconds = Number(opt['flood-seconds']);
const floodConnections = Number(opt['flood-connections']);
// Hard stop well inside five minutes whatever happens; partial results are still written.
// (at most 280 s, leaving time to stop the servers and drop what the targets created)
const HARD_LIMIT_SECONDS = Math.min(budgetSeconds + 20, 280);

const cpuCount = cpus().length;
const canPin = Boolean(tasksetAvailable()) && cpuCount >= 2;
const serverCpu = canPin ? 0 : undefined;
const loadCpu = canPin ? 1 : undefined;
const allCpus = `0-${cpuCount - 1}`;
const selfPinned = canPin && pinProcess(loadCpu);

async function versionOf(pkg) {
  try {
    const url = new URL(`../node_modules/${pkg}/package.json`, import.meta.url);
    return JSON.parse(await readFile(url, 'utf8')).version;
  } catch {
    return null;
  }
}

function gitCommit() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head}+uncommitted src changes` : head;
  } catch {
    return null;
  }
}

async function passwordHashingConfig() {
  try {
    const config = JSON.parse(await readFile(new URL('../config/default.json', import.meta.url), 'utf8'));
    return config.passwordHashing;
  } catch {
    return null;
  }
}

const results = {
  meta: {
    startedAt: new Date().toISOString(),
    node: process.version,
    oidcProvider: await versionOf('oidc-provider'),
    autocannon: await versionOf('autocannon'),
    jose: await versionOf('jose'),
    argon2: await versionOf('argon2'),
    commit: gitCommit(),
    platform: `${platform()} ${release()}`,
    cpuModel: cpus()[0]?.model,
    cpus: cpuCount,
    loadavgAtStart: loadavg().map((l) => round(l, 2)),
    pinning: canPin
      ? { server: String(serverCpu), loadGenerator: String(loadCpu), loadGeneratorPinned: selfPinned }
      : { server: null, loadGenerator: null, reason: tasksetAvailable() ? 'fewer than 2 CPUs' : 'taskset not found' },
    passwordHashing: await passwordHashingConfig(),
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    settings: {
      durationSeconds,
      connections,
      maxRounds,
      warmupSeconds,
      floorSeconds,
      budgetSeconds,
      latencySeconds,
      latencyFraction,
      latencyConnections,
      floodSeconds,
      floodConnections,
    },
  },
  floors: null,
  operations: {},
  flood: {},
  scale: {},
  memory: {},
  goals: [],
  skipped: [],
};

let finished = false;
async function writeResults(partial) {
  results.meta.totalSeconds = round(elapsed(), 1);
  results.meta.loadavgAtEnd = loadavg().map((l) => round(l, 2));
  if (partial) results.meta.partial = partial;
  results.goals = evaluateGoals(results);
  await writeFile(opt.out, `${JSON.stringify(results, null, 2)}\n`);
  if (opt.markdown) await writeFile(opt.markdown, markdownReport(results));
}

let instances = [];
let workDir;
// Stops every target (their stop() also drops a target's database and Redis keys) once.
let cleanedUp = false;
async function cleanUp() {
  if (cleanedUp) return;
  cleanedUp = true;
  await Promise.all(instances.map(async ({ name, instance }) => {
    try {
      await instance.stop();
    } catch (err) {
      log(`target ${name}: stop failed: ${err.message}`);
    }
  }));
  await stopAllStarted();
  if (workDir) await rm(workDir, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  if (finished) return;
  log(`hard time limit (${HARD_LIMIT_SECONDS}s) reached: stopping servers, writing partial results`);
  try {
    await Promise.race([cleanUp(), new Promise((r) => { setTimeout(r, 12_000); })]);
  } catch { /* best effort */ }
  killAllStartedSync();
  try { await writeResults('hard time limit reached'); } catch { /* best effort */ }
  process.exit(3);
}, HARD_LIMIT_SECONDS * 1000);
watchdog.unref();

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    log(`${signal}: cleaning up`);
    try {
      await Promise.race([cleanUp(), new Promise((r) => { setTimeout(r, 12_000); })]);
    } catch { /* best effort */ }
    killAllStartedSync();
    process.exit(130);
  });
}
process.once('exit', killAllStartedSync);

// ---------------------------------------------------------------------------------------

workDir = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
const jwksFile = join(workDir, 'jwks.json');
await ensureBenchJwks(jwksFile);

if (opt['metrics-cost']) {
  // Only the cost of the metrics: its own report, then exit (bench/lib/metrics-cost.js).
  const { measureMetricsCost, metricsCostReport } = await import('./lib/metrics-cost.js');
  try {
    const target = TARGETS.find((t) => t.name === opt['metrics-target']);
    if (!target) throw new Error(`no target ${opt['metrics-target']}`);
    const available = target.available ? await target.available() : true;
    if (available !== true) throw new Error(`target ${target.name}: ${available}`);
    const outcome = await measureMetricsCost({
      target,
      jwksFile,
      workDir,
      cpu: serverCpu,
      connections,
      durationSeconds: opt.duration === '3' ? 2.5 : durationSeconds,
      rounds: opt.rounds === '3' ? 4 : maxRounds,
      warmupSeconds,
      ops: opt.ops?.split(','),
      control: opt['metrics-control'],
      log,
      track: (entry) => instances.push(entry),
      untrack: (instance) => { instances = instances.filter((entry) => entry.instance !== instance); },
    });
    results.metricsCost = outcome;
    process.stdout.write(`\n${metricsCostReport(outcome)}`);
  } catch (err) {
    results.error = String(err?.stack ?? err);
    log(`failed: ${err?.message ?? err}`);
    process.exitCode = 1;
  } finally {
    await cleanUp();
    finished = true;
    results.meta.totalSeconds = round(elapsed(), 1);
    await writeFile(opt.out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`results: ${opt.out}  (${round(elapsed(), 0)} s total)\n`);
  }
  process.exit();
}

async function measureFloors() {
  if (opt['skip-floors']) return null;
  log(`floors: ${floorSeconds}s each, pinned to CPU ${serverCpu ?? '(unpinned)'}`);
  const pinned = await runFloorsInChild({ cpus: serverCpu, seconds: floorSeconds, jwksFile });
  const out = { serverCpu: pinned.floors, serverCpuSet: pinned.pinnedTo, allCpus: null };
  if (canPin) {
    log(`floors: concurrent variants on all ${cpuCount} CPUs`);
    const all = await runFloorsInChild({
      cpus: allCpus, seconds: floorSeconds, jwksFile, only: ['argon2id_verify_c4', 'es256_sign_c8'],
    });
    out.allCpus = all.floors;
    out.allCpusSet = all.pinnedTo;
    // What two processes can get out of this machine at all: the raw ES256 signing rate of
    // two processes at once, each pinned to its own CPU, against one process alone (the
    // reference for the two-processes ratio of the servers).
    log(`floors: es256_sign in ${cpuCount >= 2 ? 2 : 1} processes at once, one per CPU`);
    const pair = await Promise.all([0, 1].map((cpu) => runFloorsInChild({
      cpus: String(cpu), seconds: floorSeconds, jwksFile, only: ['es256_sign'],
    })));
    const sum = pair.reduce((n, p) => n + p.floors.es256_sign.opsPerSecond, 0);
    out.twoProcesses = {
      es256_sign: round(sum),
      perProcess: pair.map((p) => p.floors.es256_sign.opsPerSecond),
      ratio: round(sum / pinned.floors.es256_sign.opsPerSecond, 3),
    };
  }
  return out;
}

async function startTargets() {
  const wanted = opt.targets ? new Set(opt.targets.split(',')) : null;
  let candidates = TARGETS;
  if (compareRateLimits) candidates = RATE_LIMIT_COMPARISON_TARGETS;
  if (baseCheckout) candidates = checkoutComparisonTargets(resolve(baseCheckout));
  const chosen = candidates.filter((t) => !wanted || wanted.has(t.name));
  // Start-up (and the set-up through the CLI) is not measured: all targets at once.
  const started = await Promise.all(chosen.map(async (target) => {
    const available = target.available ? await target.available() : true;
    if (available !== true) {
      results.skipped.push({ target: target.name, reason: String(available || 'unavailable') });
      log(`target ${target.name}: skipped (${available})`);
      return null;
    }
    try {
      const targetDir = join(workDir, target.name);
      const instance = await target.start({ jwksFile, cpu: serverCpu, workDir: targetDir });
      instance.memoryAtStart = await processMemory(instance);
      log(`target ${target.name}: ready at ${instance.url}${instance.pinned ? ` (pinned to CPU ${serverCpu})` : ''}`);
      return { name: target.name, description: target.description, instance };
    } catch (err) {
      results.skipped.push({ target: target.name, reason: `start failed: ${err.message}` });
      log(`target ${target.name}: start failed: ${err.message}`);
      return null;
    }
  }));
  const ready = started.filter(Boolean);
  results.meta.targets = Object.fromEntries(ready.map((t) => [t.name, t.description]));
  return ready;
}

// Seconds kept back for what runs after the operations (measured: flood ~2 × 8 s per target,
// scaling ~15 s, memory ~2 s).
const FLOOD_ROUNDS = 2;
const floodSecondsPerTarget = () => FLOOD_ROUNDS * (1.5 + 2 * floodSeconds + 2) + 2;
const SCALE_ROUNDS = 2;
const scaleSeconds = () => 5 + SCALE_ROUNDS * 2 * (durationSeconds + 0.6);
function reservedSeconds(tessera) {
  let s = 4; // stopping, cleaning up, writing
  if (!opt['skip-flood']) s += tessera.filter((t) => t.instance.passwordUsers).length * floodSecondsPerTarget();
  if (!opt['skip-scale'] && tessera.some((t) => t.instance.replicas)) s += scaleSeconds();
  if (!opt['skip-memory']) s += 2;
  return s;
}

// More, shorter rounds beat fewer, longer ones on a noisy machine: every extra alternation
// is another chance for drift to cancel. So keep the round count and shorten runs (down to
// 2 s) before giving up rounds.
const MIN_RUN_SECONDS = 2;
function planRounds(pairs, reserve) {
  const remaining = budgetSeconds - elapsed() - reserve;
  // per (operation, target): warm-up, preparation, the latency probe, then the rounds; every
  // run costs ~0.8 s on top of its duration (autocannon start and stop, preparation)
  const perPair = remaining / Math.max(1, pairs) - (warmupSeconds + 0.8) - (latencySeconds + 0.8) - 0.5;
  const overhead = 0.8;
  for (let rounds = maxRounds; rounds >= 1; rounds -= 1) {
    const duration = Math.min(durationSeconds, Math.floor((perPair / rounds - overhead) * 10) / 10);
    if (duration >= Math.min(MIN_RUN_SECONDS, durationSeconds)) return { rounds, duration };
  }
  return { rounds: 1, duration: Math.max(1, Math.floor(perPair - overhead)) };
}

// Rate of doing every named floor operation in turn: 1 / sum(1 / rate).
function combinedFloor(names) {
  if (!names || !results.floors) return undefined;
  const rates = [names].flat().map((n) => results.floors.serverCpu?.[n]?.opsPerSecond);
  if (!rates.length || rates.some((r) => !Number.isFinite(r) || r <= 0)) return undefined;
  return 1 / rates.reduce((sum, r) => sum + 1 / r, 0);
}

// A freshly started server is slower for its first seconds (JIT tiers, heap growth) whatever
// the operation; give each one a few seconds of the first operation before anything counts.
const SERVER_WARMUP_SECONDS = 3;
async function warmUpServers(ops) {
  const [first] = ops;
  if (!first) return;
  for (const { name, instance } of instances) {
    if (first.supports(instance) !== true) continue;
    log(`warm-up: ${name}, ${first.name} for ${SERVER_WARMUP_SECONDS}s`);
    const prepared = await first.prepare(instance, { connections });
    await measureOperation(runLoad, instance, prepared, { connections, durationSeconds: SERVER_WARMUP_SECONDS });
  }
}

const fixedRates = {};

async function runOperations(ops) {
  await warmUpServers(ops);
  const pairs = ops.reduce((n, op) => n + instances.filter((t) => op.supports(t.instance) === true).length, 0);
  const plan = planRounds(pairs, reservedSeconds(instances));
  results.meta.plan = { ...plan, pairs };
  log(`plan: ${ops.length} operations, ${pairs} (operation, target) pairs, ${plan.rounds} rounds of ${plan.duration}s, ${connections} connections`);

  for (const op of ops) {
    const targets = [];
    for (const t of instances) {
      const ok = op.supports(t.instance);
      if (ok === true) targets.push({ ...t, prepared: null });
      else results.skipped.push({ operation: op.name, target: t.name, reason: ok });
    }
    if (!targets.length) continue;
    const needed = targets.length * (warmupSeconds + plan.duration + latencySeconds + 2);
    if (elapsed() + needed > budgetSeconds - reservedSeconds(instances)) {
      results.skipped.push({ operation: op.name, reason: 'time budget exhausted' });
      log(`${op.name}: skipped, time budget exhausted`);
      continue;
    }
    log(`${op.name}: ${op.title}`);
    const loadOptions = { connections, durationSeconds: plan.duration };
    const outcome = await alternate({
      targets,
      rounds: plan.rounds,
      reference: instances[0].name,
      abba: compareRateLimits || Boolean(baseCheckout),
      async warmup(t) {
        t.prepared = await op.prepare(t.instance, { connections });
        if (warmupSeconds > 0) {
          await measureOperation(runLoad, t.instance, t.prepared, { ...loadOptions, durationSeconds: warmupSeconds });
        }
      },
      async measure(t) {
        if (op.settleSeconds) await new Promise((r) => { setTimeout(r, op.settleSeconds * 1000); });
        if (!compareRateLimits && !baseCheckout) return measureOperation(runLoad, t.instance, t.prepared, loadOptions);
        // the server's CPU time per answered request: steadier than ok/s on a shared machine,
        // where other processes take the server's core for part of a run
        const cpuBefore = await cpuSecondsOf(t.instance.pid);
        const run = await measureOperation(runLoad, t.instance, t.prepared, loadOptions);
        const cpuAfter = await cpuSecondsOf(t.instance.pid);
        if (cpuBefore !== undefined && cpuAfter !== undefined && run.requests) {
          run.cpuMicrosecondsPerRequest = round(((cpuAfter - cpuBefore) * 1e6) / run.requests, 1);
        }
        return run;
      },
      shouldContinue: () => elapsed() + targets.length * (plan.duration + latencySeconds + 1)
        < budgetSeconds - reservedSeconds(instances),
      onRun: (t, r, run) => log(`  ${op.name} round ${r + 1} ${t.name.padEnd(16)} ${String(run.okRps).padStart(8)} ok rps  p50 ${run.p50} ms  p99 ${run.p99} ms  non2xx ${run.non2xx}  errors ${run.errors}  invalid ${run.invalid}${run.lastError ? `  (${run.lastError})` : ''}`),
    });

    // Latency at a fixed load: the same request rate for every target, a fraction of the
    // slowest target's throughput, so that no target is saturated.
    const rates = Object.values(outcome.targets).map((s) => s.okRps).filter((r) => Number.isFinite(r) && r > 0);
    if (rates.length && latencySeconds > 0) {
      const rate = Math.max(1, Math.round(Math.min(...rates) * latencyFraction));
      fixedRates[op.name] = rate;
      for (const t of targets) {
        const s = outcome.targets[t.name];
        if (!t.prepared || !s?.rounds) continue;
        try {
          const run = await measureOperation(runLoad, t.instance, t.prepared, {
            connections: latencyConnections, durationSeconds: latencySeconds, overallRate: rate,
          });
          s.fixedLoad = {
            rate, connections: latencyConnections, okRps: run.okRps, p50: run.p50, p99: run.p99, non2xx: run.non2xx, errors: run.errors,
          };
          log(`  ${op.name} fixed load ${rate}/s ${t.name.padEnd(16)} p50 ${run.p50} ms  p99 ${run.p99} ms  (${run.okRps} ok rps)`);
        } catch (err) {
          s.fixedLoad = { rate, error: String(err?.message ?? err) };
        }
      }
    }

    const floor = combinedFloor(op.floor);
    for (const [name, s] of Object.entries(outcome.targets)) {
      if (floor && Number.isFinite(s.okRps)) s.shareOfFloor = round(s.okRps / floor, 3);
      s.invalid = s.runs?.reduce((n, r) => n + r.invalid, 0);
      const notes = instances.find((i) => i.name === name)?.instance.notes;
      if (notes) s.notes = notes;
    }
    results.operations[op.name] = {
      title: op.title, floor: op.floor ?? null, floorOpsPerSecond: floor ? round(floor) : null, ...outcome,
    };
  }
}

async function runFlood() {
  const op = OPERATIONS.find((o) => o.name === 'client_credentials_jwt');
  for (const { name, instance } of instances) {
    if (!instance.passwordUsers || op.supports(instance) !== true) continue;
    const need = floodSecondsPerTarget();
    if (elapsed() + need > HARD_LIMIT_SECONDS - 15) {
      results.skipped.push({ scenario: 'flood', target: name, reason: 'time budget exhausted' });
      continue;
    }
    const rate = fixedRates[op.name] ?? 100;
    log(`flood: ${name}, client_credentials at ${rate}/s (${latencyConnections} connection) alone and during a password-grant flood of ${floodConnections} connections`);
    try {
      const prepared = await op.prepare(instance, { connections });
      results.flood[name] = await floodTest({
        instance,
        prepared,
        rate,
        connections: latencyConnections,
        seconds: floodSeconds,
        floodConnections,
        rounds: elapsed() + need < budgetSeconds ? FLOOD_ROUNDS : 1,
        log,
      });
    } catch (err) {
      results.flood[name] = { error: String(err?.message ?? err) };
      log(`flood: ${name} failed: ${err.message}`);
    }
  }
}

async function runScale() {
  const op = OPERATIONS.find((o) => o.name === opt['scale-op']);
  if (!op) throw new Error(`unknown --scale-op ${opt['scale-op']}`);
  for (const { name, instance } of instances) {
    if (!instance.replicas || op.supports(instance) !== true) continue;
    if (cpuCount < 2) {
      results.skipped.push({ scenario: 'scale', target: name, reason: 'needs two CPUs' });
      continue;
    }
    if (elapsed() + scaleSeconds() > HARD_LIMIT_SECONDS - 12) {
      results.skipped.push({ scenario: 'scale', target: name, reason: 'time budget exhausted' });
      continue;
    }
    log(`scale: ${name}, ${op.name}: one process (CPU ${serverCpu ?? '-'}) vs two (CPUs ${serverCpu ?? '-'} and ${loadCpu ?? '-'}) on the same stores`);
    try {
      results.scale[name] = await scaleTest({
        instance,
        op,
        connections,
        seconds: durationSeconds,
        rounds: SCALE_ROUNDS,
        cpuA: serverCpu,
        cpuB: loadCpu ?? 1,
        loadCpu,
        allCpus: canPin ? allCpus : undefined,
        log,
      });
    } catch (err) {
      results.scale[name] = { error: String(err?.message ?? err) };
      log(`scale: ${name} failed: ${err.message}`);
    }
  }
}

async function measureMemory() {
  for (const { name, instance } of instances) {
    const entry = { processes: await processMemory(instance), atStart: instance.memoryAtStart };
    if (instance.redis) {
      try {
        // A few opaque access tokens of a grant (the operations only leave JWTs and
        // client_credentials tokens), so that every record kind has samples.
        if (instance.passwordUsers) {
          const { tokenRequest } = await import('./lib/oauth.js');
          await Promise.all(instance.passwordUsers.slice(0, 4).map((u) => tokenRequest(instance, {
            grant_type: 'password', username: u.username, password: u.password, resource: instance.opaqueResource, scope: instance.resourceScope,
          }).catch(() => {})));
        }
        entry.redis = await redisMemory(instance);
      } catch (err) {
        entry.redis = { error: String(err?.message ?? err) };
      }
    }
    results.memory[name] = entry;
    log(`memory: ${name}: ${entry.processes.map((p) => `${p.name} RSS ${p.rssMiB} MiB (peak ${p.peakRssMiB})`).join(', ')}${entry.redis?.perRecord ? `; Redis bytes: ${Object.entries(entry.redis.perRecord).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}`);
  }
}

/**
 * On/off ratios per store layout and operation, and the limiter's own cost per request
 * (in-process) against the time of one client_credentials request on one CPU.
 */
const RATE_LIMITED_OPS = ['client_credentials_jwt', 'introspect_jwt', 'introspect_opaque'];

/**
 * Every run: the limiter's in-process cost per request as a share of each Tessera target's
 * time per request (1 / ok/s on its one core) for client_credentials and introspection. The
 * targets run with the limits on (1,000,000 a minute), so their ok/s include it already.
 */
async function reportLimiterShare() {
  const micro = await rateLimitCostMicroseconds();
  const perSystem = {};
  for (const opName of RATE_LIMITED_OPS) {
    for (const [system, t] of Object.entries(results.operations[opName]?.targets ?? {})) {
      if (!system.startsWith('tessera') || !Number.isFinite(t.okRps) || !t.okRps) continue;
      (perSystem[system] ??= {})[opName] = round((micro.microsecondsPerRequest / (1e6 / t.okRps)) * 100, 2);
    }
  }
  results.rateLimits = { limiterMicrosecondsPerRequest: micro.microsecondsPerRequest, sharePercent: perSystem };
  log(`rate limits: the limiter costs ${micro.microsecondsPerRequest} µs per request in process; % of a request: ${JSON.stringify(perSystem)}`);
}

const median = (values) => {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : round((sorted[mid - 1] + sorted[mid]) / 2, 1);
};

async function reportRateLimitCost() {
  const micro = await rateLimitCostMicroseconds();
  const comparison = { limiterMicrosecondsPerRequest: micro.microsecondsPerRequest, pairs: {} };
  for (const [opName, op] of Object.entries(results.operations)) {
    for (const layout of ['embedded', 'pg-redis']) {
      const off = op.targets[`${layout}-limits-off`]?.okRps;
      const on = op.targets[`${layout}-limits-on`]?.okRps;
      if (!Number.isFinite(off) || !Number.isFinite(on) || !off) continue;
      const cpuOf = (name) => median((op.targets[name]?.runs ?? []).map((r) => r.cpuMicrosecondsPerRequest).filter(Number.isFinite));
      const cpuOff = cpuOf(`${layout}-limits-off`);
      const cpuOn = cpuOf(`${layout}-limits-on`);
      const entry = {
        offRps: off, onRps: on, ratio: round(on / off, 3), costPercent: round((1 - on / off) * 100, 1),
        cpuMicrosecondsOff: cpuOff, cpuMicrosecondsOn: cpuOn,
        cpuCostPercent: Number.isFinite(cpuOff) && Number.isFinite(cpuOn) && cpuOff ? round((cpuOn / cpuOff - 1) * 100, 1) : null,
        // the in-process cost as a share of one request's server time (one CPU: 1 / rps)
        limiterSharePercent: round(micro.microsecondsPerRequest / (1e6 / off) * 100, 2),
      };
      comparison.pairs[`${layout} ${opName}`] = entry;
      log(`rate limits: ${layout} ${opName}: off ${off} rps, on ${on} rps, on/off ${entry.ratio} (${entry.costPercent}% cost); server CPU per request off ${cpuOff} µs, on ${cpuOn} µs (${entry.cpuCostPercent}%); limiter in-process ${micro.microsecondsPerRequest} µs/request = ${entry.limiterSharePercent}% of a request`);
    }
  }
  results.rateLimits = comparison;
}

/**
 * head ÷ base per store layout and operation (--base-checkout), and what the provider
 * pipeline steps of issue 14 cost a request in process (bench/lib/pipeline-cost.js).
 */
async function reportCheckoutComparison() {
  const { pipelineCostNanoseconds } = await import('./lib/pipeline-cost.js');
  const comparison = { baseCheckout: resolve(baseCheckout), pipelineSteps: await pipelineCostNanoseconds(), pairs: {} };
  for (const [opName, op] of Object.entries(results.operations)) {
    for (const layout of ['embedded', 'pg-redis']) {
      const base = op.targets[`base-${layout}`];
      const head = op.targets[`head-${layout}`];
      if (!Number.isFinite(base?.okRps) || !Number.isFinite(head?.okRps) || !base.okRps) continue;
      const cpuOf = (t) => median((t.runs ?? []).map((r) => r.cpuMicrosecondsPerRequest).filter(Number.isFinite));
      // per round (A B A B: round i of each ran next to each other): the spread of the ratio
      const roundRatios = (head.runs ?? []).map((r, i) => r.okRps / base.runs?.[i]?.okRps).filter(Number.isFinite).map((x) => round(x, 3));
      const entry = {
        baseRps: base.okRps,
        headRps: head.okRps,
        ratio: round(head.okRps / base.okRps, 3),
        roundRatios,
        cpuMicrosecondsBase: cpuOf(base),
        cpuMicrosecondsHead: cpuOf(head),
      };
      if (entry.cpuMicrosecondsBase && entry.cpuMicrosecondsHead) entry.cpuRatio = round(entry.cpuMicrosecondsHead / entry.cpuMicrosecondsBase, 3);
      // the steps in process against the head's server CPU per request
      const steps = comparison.pipelineSteps[opName.startsWith('introspect') ? 'introspection' : 'client_credentials'];
      if (steps && entry.cpuMicrosecondsHead) entry.stepsSharePercent = round((steps.stepsNs / 1000 / entry.cpuMicrosecondsHead) * 100, 2);
      comparison.pairs[`${layout} ${opName}`] = entry;
    }
  }
  results.checkoutComparison = comparison;
}

try {
  results.floors = await measureFloors();
  instances = await startTargets();
  if (!instances.length) throw new Error('no target could be started');
  const wanted = opt.ops ? new Set(opt.ops.split(',')) : null;
  const ops = OPERATIONS.filter((op) => (wanted ? wanted.has(op.name) : op.default !== false));
  await runOperations(ops);
  if (compareRateLimits) await reportRateLimitCost();
  else if (baseCheckout) await reportCheckoutComparison();
  else await reportLimiterShare();
  if (!opt['skip-flood']) await runFlood();
  if (!opt['skip-scale']) await runScale();
  if (!opt['skip-memory']) await measureMemory();
} catch (err) {
  results.error = String(err?.stack ?? err);
  log(`failed: ${err?.message ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
  finished = true;
  await writeResults();
  process.stdout.write(`\n${textReport(results)}\nresults: ${opt.out}  (${round(elapsed(), 0)} s total)\n`);
  if (results.rateLimits?.pairs) {
    process.stdout.write(`\nrate limits (on at 1,000,000/min vs off; limiter in-process ${results.rateLimits.limiterMicrosecondsPerRequest} µs/request):\n`);
    for (const [name, p] of Object.entries(results.rateLimits.pairs)) {
      process.stdout.write(`  ${name.padEnd(36)} ok/s off ${String(p.offRps).padStart(7)} on ${String(p.onRps).padStart(7)} (on/off ${p.ratio})  server CPU/request off ${p.cpuMicrosecondsOff} µs on ${p.cpuMicrosecondsOn} µs (${p.cpuCostPercent}%)  limiter in-process ${p.limiterSharePercent}%\n`);
    }
  }
  if (results.checkoutComparison) {
    const steps = results.checkoutComparison.pipelineSteps;
    process.stdout.write(`\nthis checkout (head) vs ${results.checkoutComparison.baseCheckout} (base); issue 14's provider pipeline steps in process: client_credentials ${steps.client_credentials.stepsNs} ns (median of pairs ${steps.client_credentials.stepsNsMedianOfPairs}; each step on every request ${steps.client_credentials.everyStepNs}), introspection ${steps.introspection.stepsNs} ns (${steps.introspection.stepsNsMedianOfPairs}; ${steps.introspection.everyStepNs}), NUL check ${steps.client_credentials.nulCheckNs} / ${steps.introspection.nulCheckNs} ns:\n`);
    for (const [name, p] of Object.entries(results.checkoutComparison.pairs)) {
      process.stdout.write(`  ${name.padEnd(36)} ok/s base ${String(p.baseRps).padStart(7)} head ${String(p.headRps).padStart(7)} (head/base ${p.ratio}; per round ${p.roundRatios.join(', ')})  server CPU/request base ${p.cpuMicrosecondsBase} µs head ${p.cpuMicrosecondsHead} µs (head/base ${p.cpuRatio}; steps ${p.stepsSharePercent}% of it)\n`);
    }
  }
}
