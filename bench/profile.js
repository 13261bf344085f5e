// Profiles one benchmark target under one operation's load: starts it (pinned like the
// bench) with the inspector on a loopback port, warms it up, then records a V8 CPU profile
// (the same .cpuprofile JSON that `node --cpu-prof` writes, but of the load window only,
// not of start-up and set-up) while the load runs for a few seconds, sampling the CPU time
// of each of the server's threads meanwhile; then summarizes the profile: top functions by
// self time, and self time by package / source area.
//
//   node bench/profile.js --target tessera-pg-redis --op client_credentials_jwt [--seconds 5]
//        [--warmup 2] [--connections 10] [--top 30] [--keep DIR] [--save-summary FILE]
//        [--node-arg=--max-semi-space-size=16 ...]   (extra Node options for the server)
//
// The profile covers the server's main thread (JavaScript and what it calls); time that
// libuv's pool spends (argon2) shows up in the per-thread CPU table instead.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { ensureBenchJwks } from './lib/keys.js';
import {
  pinProcess, round, runLoad, stopAllStarted, tasksetAvailable,
} from './lib/load.js';
import { OPERATIONS, measureOperation } from './lib/operations.js';
import { TARGETS } from './targets/index.js';

const { values: opt } = parseArgs({
  options: {
    target: { type: 'string', default: 'tessera-pg-redis' },
    op: { type: 'string', default: 'client_credentials_jwt' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10' },
    top: { type: 'string', default: '30' },
    keep: { type: 'string' },
    'save-summary': { type: 'string' },
    'node-arg': { type: 'string', multiple: true, default: [] },
  },
});

const target = TARGETS.find((t) => t.name === opt.target);
const op = OPERATIONS.find((o) => o.name === opt.op);
if (!target || !op) {
  process.stderr.write(`unknown target or op; targets: ${TARGETS.map((t) => t.name).join(', ')}; ops: ${OPERATIONS.map((o) => o.name).join(', ')}\n`);
  process.exit(2);
}
const canPin = Boolean(tasksetAvailable());
if (canPin) pinProcess(1);
const connections = Number(opt.connections);

/** CPU seconds per thread name of a process (Linux /proc/<pid>/task). */
async function threadCpu(pid) {
  const out = {};
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    try {
      const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = tid === String(pid) ? 'main (event loop)' : comm;
      out[name] = (out[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100;
    } catch { /* thread gone */ }
  }
  return out;
}

function area(url) {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return 'node: (core)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const src = /\/(src|bench|views)\/(.*)$/.exec(url);
  if (src) return `${src[1]}/${src[2].split('/').slice(0, src[1] === 'src' ? 1 : 2).join('/')}`;
  return url;
}

/** Self time per function and per area from a V8 .cpuprofile. */
export function summarizeProfile(profile, top = 30, requests = 0) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  const fns = new Map();
  const areas = new Map();
  for (const [id, us] of self) {
    const { callFrame: f } = byId.get(id);
    const file = f.url ? f.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|src|bench|views)\//, '$1/') : '';
    const key = `${f.functionName || '(anonymous)'}  ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const a = ['(idle)', '(program)', '(garbage collector)'].includes(f.functionName) ? f.functionName : area(f.url);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const rows = (m) => [...m].sort((a, b) => b[1] - a[1]).map(([k, us]) => ({
    name: k,
    ms: round(us / 1000, 1),
    percent: round((us / total) * 100, 1),
    ...(requests ? { usPerRequest: round(us / requests, 2) } : {}),
  }));
  return { totalMs: round(total / 1000), functions: rows(fns).slice(0, top), areas: rows(areas) };
}

/** A minimal Chrome DevTools Protocol client for the server's inspector. */
async function inspectorSession(log) {
  let wsUrl;
  for (let i = 0; i < 50 && !wsUrl; i += 1) {
    wsUrl = log.map((l) => /Debugger listening on (ws:\/\/\S+)/.exec(l)?.[1]).find(Boolean);
    if (!wsUrl) await new Promise((r) => { setTimeout(r, 100); });
  }
  if (!wsUrl) throw new Error('the server did not announce its inspector');
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let id = 0;
  const pending = new Map();
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(msg.error.message)); else resolve(msg.result);
    }
  };
  return {
    send: (method, params = {}) => new Promise((resolve, reject) => {
      id += 1;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    }),
    close: () => ws.close(),
  };
}

const workDir = await mkdtemp(join(tmpdir(), 'tessera-profile-'));
const profDir = opt.keep ?? join(workDir, 'prof');
await mkdir(profDir, { recursive: true });
const jwksFile = join(workDir, 'jwks.json');
await ensureBenchJwks(jwksFile);
let instance;
try {
  const available = target.available ? await target.available() : true;
  if (available !== true) throw new Error(`${target.name} unavailable: ${available}`);
  instance = await target.start({
    jwksFile,
    cpu: canPin ? 0 : undefined,
    workDir: join(workDir, target.name),
    nodeArgs: [...opt['node-arg'], '--inspect=127.0.0.1:0'],
  });
  const inspector = await inspectorSession(instance.log);
  const prepared = await op.prepare(instance, { connections });
  process.stderr.write(`warm-up ${opt.warmup}s\n`);
  await measureOperation(runLoad, instance, prepared, { connections, durationSeconds: Number(opt.warmup) });
  await inspector.send('Profiler.enable');
  await inspector.send('Profiler.setSamplingInterval', { interval: 200 });
  await inspector.send('Profiler.start');
  const before = await threadCpu(instance.pid);
  const run = await measureOperation(runLoad, instance, prepared, { connections, durationSeconds: Number(opt.seconds) });
  const after = await threadCpu(instance.pid);
  const { profile } = await inspector.send('Profiler.stop');
  // what the process holds after the load: RSS and the V8 heap, after a full GC too
  const memory = async () => {
    const { result } = await inspector.send('Runtime.evaluate', {
      expression: 'JSON.stringify(Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 1048576 * 10) / 10])))',
      returnByValue: true,
    });
    return JSON.parse(result.value);
  };
  const memoryAfterLoad = await memory();
  const spaces = JSON.parse((await inspector.send('Runtime.evaluate', {
    expression: `JSON.stringify(process.getBuiltinModule('v8').getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_size / 104857.6) / 10, Math.round(s.space_used_size / 104857.6) / 10]))`,
    returnByValue: true,
  })).result.value);
  await inspector.send('HeapProfiler.collectGarbage').catch(() => {});
  const memoryAfterGc = await memory();
  inspector.close();
  const profileFile = join(profDir, `${target.name}-${op.name}.cpuprofile`);
  await writeFile(profileFile, JSON.stringify(profile));
  const threads = Object.fromEntries(Object.keys(after).map((k) => [k, round((after[k] - (before[k] ?? 0)) / run.durationSeconds, 3)])
    .filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]));
  await instance.stop();
  instance = undefined;
  const summary = summarizeProfile(profile, Number(opt.top), run.ok);
  const report = {
    target: target.name,
    operation: op.name,
    load: { okRps: run.okRps, p50: run.p50, p99: run.p99, non2xx: run.non2xx, errors: run.errors, seconds: run.durationSeconds },
    threadCoresDuringLoad: threads,
    memoryMiB: { afterLoad: memoryAfterLoad, afterFullGc: memoryAfterGc, heapSpacesAfterLoad: spaces },
    profile: profileFile,
    ...summary,
  };
  if (opt['save-summary']) await writeFile(opt['save-summary'], `${JSON.stringify(report, null, 2)}\n`);
  const lines = [
    `${target.name} / ${op.name}: ${run.okRps} ok rps, p50 ${run.p50} ms, p99 ${run.p99} ms (while profiled: ${opt.seconds}s of load after ${opt.warmup}s of warm-up)`,
    `CPU during the load, cores per thread: ${Object.entries(threads).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `memory (MiB) after the load: ${JSON.stringify(memoryAfterLoad)}; after a full GC: ${JSON.stringify(memoryAfterGc)}`,
    `V8 heap spaces after the load [name, size MiB, used MiB]: ${JSON.stringify(spaces)}`,
    '',
    'self time by area:',
    ...summary.areas.slice(0, 20).map((a) => `  ${String(a.percent).padStart(5)}%  ${String(a.ms).padStart(8)} ms  ${String(a.usPerRequest).padStart(7)} µs/req  ${a.name}`),
    '',
    `top ${opt.top} functions by self time:`,
    ...summary.functions.map((a) => `  ${String(a.percent).padStart(5)}%  ${String(a.ms).padStart(8)} ms  ${String(a.usPerRequest).padStart(7)} µs/req  ${a.name}`),
    '',
    `profile: ${report.profile}${opt.keep ? '' : ' (deleted; --keep DIR to keep it)'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  if (instance) await instance.stop().catch(() => {});
  await stopAllStarted();
  await rm(workDir, { recursive: true, force: true });
}
