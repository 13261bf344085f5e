// `npm run bench`: bounded loopback benchmarks of Tessera against the bare oidc-provider.
//
//   npm run bench -- [--duration 5] [--connections 10] [--rounds 3] [--warmup 1]
//                    [--ops a,b] [--targets a,b] [--floor-seconds 3] [--skip-floors]
//                    [--budget 270] [--out bench/results.json]
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
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { runFloorsInChild } from './lib/floors.js';
import { ensureBenchJwks } from './lib/keys.js';
import {
  alternate, killAllStartedSync, pinProcess, round, runLoad, stopAllStarted, tasksetAvailable,
} from './lib/load.js';
import { OPERATIONS, measureOperation } from './lib/operations.js';
import { TARGETS } from './targets/index.js';

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
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
    ops: { type: 'string' },
    targets: { type: 'string' },
    'floor-seconds': { type: 'string', default: '3' },
    'skip-floors': { type: 'boolean', default: false },
    budget: { type: 'string', default: '270' },
    out: { type: 'string', default: fileURLToPath(new URL('./results.json', import.meta.url)) },
  },
});

const durationSeconds = Number(opt.duration);
const connections = Number(opt.connections);
const maxRounds = Math.max(1, Number(opt.rounds));
const warmupSeconds = Number(opt.warmup);
const budgetSeconds = Number(opt.budget);
const floorSeconds = Number(opt['floor-seconds']);
// Hard stop well inside five minutes whatever happens; partial results are still written.
const HARD_LIMIT_SECONDS = Math.min(budgetSeconds + 20, 295);

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
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
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
    settings: {
      durationSeconds, connections, maxRounds, warmupSeconds, floorSeconds, budgetSeconds,
    },
  },
  floors: null,
  operations: {},
  skipped: [],
};

let finished = false;
async function writeResults(partial) {
  results.meta.totalSeconds = round(elapsed(), 1);
  results.meta.loadavgAtEnd = loadavg().map((l) => round(l, 2));
  if (partial) results.meta.partial = partial;
  await writeFile(opt.out, `${JSON.stringify(results, null, 2)}\n`);
}

const watchdog = setTimeout(async () => {
  if (finished) return;
  log(`hard time limit (${HARD_LIMIT_SECONDS}s) reached: stopping servers, writing partial results`);
  killAllStartedSync();
  try { await writeResults('hard time limit reached'); } catch { /* best effort */ }
  process.exit(3);
}, HARD_LIMIT_SECONDS * 1000);
watchdog.unref();

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAllStartedSync();
    process.exit(130);
  });
}
process.once('exit', killAllStartedSync);

// ---------------------------------------------------------------------------------------

const workDir = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
const jwksFile = join(workDir, 'jwks.json');
await ensureBenchJwks(jwksFile);

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
  }
  return out;
}

async function startTargets() {
  const wanted = opt.targets ? new Set(opt.targets.split(',')) : null;
  const instances = [];
  for (const target of TARGETS) {
    if (wanted && !wanted.has(target.name)) continue;
    const available = target.available ? await target.available() : true;
    if (available !== true) {
      results.skipped.push({ target: target.name, reason: String(available || 'unavailable') });
      log(`target ${target.name}: skipped (${available})`);
      continue;
    }
    try {
      const targetDir = join(workDir, target.name);
      const instance = await target.start({ jwksFile, cpu: serverCpu, workDir: targetDir });
      instances.push({ name: target.name, description: target.description, instance });
      log(`target ${target.name}: ready at ${instance.url}${instance.pinned ? ` (pinned to CPU ${serverCpu})` : ''}`);
    } catch (err) {
      results.skipped.push({ target: target.name, reason: `start failed: ${err.message}` });
      log(`target ${target.name}: start failed: ${err.message}`);
    }
  }
  return instances;
}

// More, shorter rounds beat fewer, longer ones on a noisy machine: every extra alternation
// is another chance for drift to cancel. So keep the round count and shorten runs (down to
// 3 s) before giving up rounds.
const MIN_RUN_SECONDS = 3;
function planRounds(opCount, targetCount) {
  const remaining = budgetSeconds - elapsed() - 5;
  const perPair = remaining / Math.max(1, opCount * targetCount) - warmupSeconds - 1;
  const overhead = 0.7;
  for (let rounds = maxRounds; rounds >= 1; rounds -= 1) {
    const duration = Math.min(durationSeconds, Math.floor((perPair / rounds - overhead) * 10) / 10);
    if (duration >= Math.min(MIN_RUN_SECONDS, durationSeconds)) return { rounds, duration };
  }
  return { rounds: 1, duration: Math.max(2, Math.floor(perPair - overhead)) };
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
async function warmUpServers(instances, ops) {
  const [first] = ops;
  if (!first || warmupSeconds <= 0) return;
  for (const { name, instance } of instances) {
    if (first.supports(instance) !== true) continue;
    log(`warm-up: ${name}, ${first.name} for ${warmupSeconds * 3}s`);
    const prepared = await first.prepare(instance, { connections });
    await measureOperation(runLoad, instance, prepared, { connections, durationSeconds: warmupSeconds * 3 });
  }
}

async function runOperations(instances) {
  const wanted = opt.ops ? new Set(opt.ops.split(',')) : null;
  const ops = OPERATIONS.filter((op) => !wanted || wanted.has(op.name));
  await warmUpServers(instances, ops);
  const plan = planRounds(ops.length, instances.length);
  results.meta.plan = plan;
  log(`plan: ${ops.length} operations x ${instances.length} targets, ${plan.rounds} rounds of ${plan.duration}s, ${connections} connections`);

  for (const op of ops) {
    const targets = [];
    for (const t of instances) {
      const ok = op.supports(t.instance);
      if (ok === true) targets.push({ ...t, prepared: null });
      else results.skipped.push({ operation: op.name, target: t.name, reason: ok });
    }
    if (!targets.length) continue;
    const needed = targets.length * (warmupSeconds + plan.duration + 2);
    if (elapsed() + needed > budgetSeconds) {
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
      async warmup(t) {
        t.prepared = await op.prepare(t.instance, { connections });
        if (warmupSeconds > 0) {
          await measureOperation(runLoad, t.instance, t.prepared, { ...loadOptions, durationSeconds: warmupSeconds });
        }
      },
      measure: (t) => measureOperation(runLoad, t.instance, t.prepared, loadOptions),
      shouldContinue: () => elapsed() + targets.length * (plan.duration + 1) < budgetSeconds,
      onRun: (t, r, run) => log(`  ${op.name} round ${r + 1} ${t.name.padEnd(16)} ${String(run.okRps).padStart(8)} ok rps  p50 ${run.p50} ms  p99 ${run.p99} ms  non2xx ${run.non2xx}  errors ${run.errors}  invalid ${run.invalid}`),
    });
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

function table(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) => cells.map((c, i) => {
    const s = String(c ?? '');
    return i === 0 || i === 1 ? s.padEnd(widths[i]) : s.padStart(widths[i]);
  }).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function printReport() {
  const out = [];
  if (results.floors) {
    const rows = Object.entries(results.floors.serverCpu).map(([name, f]) => [
      name, f.description, f.opsPerSecond, results.floors.allCpus?.[name]?.opsPerSecond ?? '',
    ]);
    out.push(`Floors (ops/s; "server CPU" = pinned like the server, CPU ${results.floors.serverCpuSet ?? 'unpinned'})`);
    out.push(table(rows, ['floor', 'what', 'server CPU', `all ${cpuCount} CPUs`]));
    out.push('');
  }
  const rows = [];
  for (const [name, op] of Object.entries(results.operations)) {
    for (const [target, s] of Object.entries(op.targets)) {
      rows.push([
        name, target,
        s.okRps ?? s.error, s.rounds > 1 ? `${(s.spread * 100).toFixed(0)}%` : '', s.p50 ?? '', s.p99 ?? '',
        s.rounds ? `${s.non2xx}/${s.errors}/${s.invalid ?? 0}` : '',
        op.ratios[target] ?? '',
        s.shareOfFloor !== undefined ? `${(s.shareOfFloor * 100).toFixed(1)}% ${[op.floor].flat().join('+')}` : '',
      ]);
    }
  }
  if (rows.length) {
    out.push(`Operations (median of ${results.meta.plan?.rounds} x ${results.meta.plan?.duration}s runs, ${connections} connections; ratio = ok rps / ${Object.values(results.operations)[0]?.reference} ok rps)`);
    out.push(table(rows, ['operation', 'target', 'ok rps', 'spread', 'p50 ms', 'p99 ms', 'non2xx/err/invalid', 'ratio', 'of floor']));
  }
  for (const s of results.skipped) {
    out.push(`skipped: ${[s.operation, s.target].filter(Boolean).join(' on ')}: ${s.reason}`);
  }
  process.stdout.write(`\n${out.join('\n')}\n\nresults: ${opt.out}  (${round(elapsed(), 0)} s total)\n`);
}

let instances = [];
try {
  results.floors = await measureFloors();
  instances = await startTargets();
  if (!instances.length) throw new Error('no target could be started');
  await runOperations(instances);
} catch (err) {
  results.error = String(err?.stack ?? err);
  log(`failed: ${err?.message ?? err}`);
  process.exitCode = 1;
} finally {
  for (const { name, instance } of instances) {
    try {
      await instance.stop();
    } catch (err) {
      log(`target ${name}: stop failed: ${err.message}`);
    }
  }
  await stopAllStarted();
  finished = true;
  await writeResults();
  await rm(workDir, { recursive: true, force: true });
  printReport();
}
