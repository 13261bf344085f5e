// What the benchmark prints and what README's "Benchmarks" section shows: tables of floors,
// operations, the flood, the scaling test and memory, and the project's targets (goals),
// each with its value and whether it was met. No test asserts timing; these are reported.

/** The project's targets (issue 5). `value(results, system)` → number or undefined. */
export const GOALS = [
  {
    id: 'client_credentials',
    what: 'client_credentials (JWT) ÷ baseline',
    min: 0.9,
    value: (r, sys) => r.operations.client_credentials_jwt?.ratios?.[sys],
  },
  {
    id: 'introspection_opaque',
    what: 'introspection (opaque) ÷ baseline',
    min: 0.8,
    value: (r, sys) => r.operations.introspect_opaque?.ratios?.[sys],
  },
  {
    id: 'introspection_jwt',
    what: 'introspection (JWT) ÷ baseline',
    min: 0.8,
    value: (r, sys) => r.operations.introspect_jwt?.ratios?.[sys],
  },
  {
    id: 'refresh',
    what: 'refresh_token rotation ÷ baseline',
    min: 0.7,
    value: (r, sys) => r.operations.refresh?.ratios?.[sys],
  },
  {
    id: 'password',
    what: 'password grant ÷ raw argon2id verify rate (server core)',
    min: 0.9,
    value: (r, sys) => r.operations.password?.targets?.[sys]?.shareOfFloor,
  },
  {
    id: 'two_processes',
    what: 'two processes ÷ one (client_credentials, same Postgres + Redis)',
    min: 1.6,
    value: (r, sys) => r.scale?.[sys]?.ratio,
  },
  {
    id: 'rss',
    what: 'server RSS after the runs (MiB)',
    max: 200,
    value: (r, sys) => {
      const rss = (r.memory?.[sys]?.processes ?? []).map((p) => p.rssMiB).filter(Number.isFinite);
      return rss.length ? Math.max(...rss) : undefined;
    },
  },
  // issue 13: the limiter's in-process µs per request ÷ the target's time per request
  // (1 / ok/s on its core), in %; `--compare-rate-limits` measures limits off against on
  {
    id: 'rate_limits_client_credentials',
    what: 'rate limiting, % of a client_credentials request',
    max: 5,
    value: (r, sys) => r.rateLimits?.sharePercent?.[sys]?.client_credentials_jwt,
  },
  {
    id: 'rate_limits_introspection',
    what: 'rate limiting, % of an introspection request (JWT)',
    max: 5,
    value: (r, sys) => r.rateLimits?.sharePercent?.[sys]?.introspect_jwt,
  },
  {
    id: 'flood_p99',
    what: 'client_credentials p99 during a password flood ÷ without',
    max: 2,
    value: (r, sys) => r.flood?.[sys]?.p99Ratio,
  },
];

const isTessera = (name) => name.startsWith('tessera');

export function evaluateGoals(results) {
  const systems = Object.keys(results.meta.targets ?? {}).filter(isTessera);
  const out = [];
  for (const goal of GOALS) {
    for (const system of systems) {
      const value = goal.value(results, system);
      const measured = Number.isFinite(value);
      out.push({
        goal: goal.id,
        what: goal.what,
        system,
        value: measured ? value : null,
        target: goal.min !== undefined ? `≥ ${goal.min}` : `≤ ${goal.max}`,
        met: measured ? (goal.min !== undefined ? value >= goal.min : value <= goal.max) : null,
      });
    }
  }
  return out;
}

function table(rows, header, align = []) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) => cells.map((c, i) => {
    const s = String(c ?? '');
    return (align[i] ?? (i < 2 ? 'l' : 'r')) === 'l' ? s.padEnd(widths[i]) : s.padStart(widths[i]);
  }).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function markdownTable(rows, header, align = []) {
  const esc = (c) => String(c ?? '').replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => ((align[i] ?? (i < 2 ? 'l' : 'r')) === 'l' ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

const fmt = (v, digits = 1) => (Number.isFinite(v) ? (Math.round(v * 10 ** digits) / 10 ** digits).toString() : '');
const pct = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : '');

function floorRows(results) {
  if (!results.floors) return [];
  return Object.entries(results.floors.serverCpu).map(([name, f]) => [
    name, f.description, fmt(f.opsPerSecond), fmt(results.floors.allCpus?.[name]?.opsPerSecond),
  ]);
}

function operationRows(results) {
  const rows = [];
  for (const [name, op] of Object.entries(results.operations)) {
    for (const [target, s] of Object.entries(op.targets)) {
      rows.push([
        name,
        target,
        s.okRps ?? s.error,
        s.rounds > 1 ? pct(s.spread) : '',
        fmt(s.p50, 2),
        fmt(s.p99, 2),
        op.ratios?.[target] ?? '',
        s.shareOfFloor !== undefined ? `${(s.shareOfFloor * 100).toFixed(1)}% ${[op.floor].flat().join('+')}` : '',
        s.fixedLoad?.rate ?? '',
        fmt(s.fixedLoad?.p50, 2),
        fmt(s.fixedLoad?.p99, 2),
        s.rounds ? `${s.non2xx}/${s.errors}/${s.invalid ?? 0}` : '',
      ]);
    }
  }
  return rows;
}
const OP_HEADER = ['operation', 'system', 'ok/s', 'spread', 'p50 ms', 'p99 ms', '÷ baseline', 'of floor',
  'fixed rate/s', 'p50 ms', 'p99 ms', 'non2xx/err/invalid'];

function floodRows(results) {
  return Object.entries(results.flood ?? {}).filter(([, f]) => !f.error).map(([sys, f]) => [
    sys, f.rate, fmt(f.alone.p50, 2), fmt(f.alone.p99, 2), fmt(f.flooded.p50, 2), fmt(f.flooded.p99, 2),
    f.p99Ratio, `${f.floodConnections} conn, ${fmt(f.flood.okRps)} ok/s, ${f.flood.non2xx} non-2xx`,
  ]);
}
const FLOOD_HEADER = ['system', 'cc rate/s', 'alone p50', 'alone p99', 'flood p50', 'flood p99', 'p99 ratio', 'password flood'];

function scaleRows(results) {
  return Object.entries(results.scale ?? {}).filter(([, s]) => !s.error).map(([sys, s]) => [
    sys, s.operation, fmt(s.one.okRps), fmt(s.two.okRps), s.ratio,
    `${fmt(s.one.serverCores, 2)} / ${fmt(s.two.serverCores, 2)}`,
    `${fmt(s.one.okRpsPerServerCore, 0)} / ${fmt(s.two.okRpsPerServerCore, 0)}`,
    `${fmt(s.one.loadGeneratorCores, 2)} / ${fmt(s.two.loadGeneratorCores, 2)}`,
  ]);
}
const SCALE_HEADER = ['system', 'operation', 'one ok/s', 'two ok/s', 'ratio', 'server cores 1/2', 'ok/s per server core 1/2', 'load-gen cores 1/2'];

function memoryRows(results) {
  return Object.entries(results.memory ?? {}).map(([sys, m]) => {
    const p = m.redis?.perRecord ?? {};
    return [
      sys,
      (m.atStart ?? []).map((x) => fmt(x.rssMiB)).join(', '),
      (m.processes ?? []).map((x) => `${fmt(x.rssMiB)} (peak ${fmt(x.peakRssMiB)})`).join(', '),
      p.session ?? '', p.refreshToken ?? '', p.opaqueAccessToken ?? '', p.clientCredentialsToken ?? '', p.grant ?? '',
    ];
  });
}
const MEMORY_HEADER = ['system', 'RSS MiB at start', 'RSS MiB after runs', 'Redis B/session', 'B/refresh token', 'B/opaque AT', 'B/client_credentials AT', 'B/grant'];

function goalRows(results) {
  return (results.goals ?? []).map((g) => [
    g.what, g.system, g.value ?? 'not measured', g.target, g.met === null ? '–' : (g.met ? 'met' : 'MISSED'),
  ]);
}
const GOAL_HEADER = ['target', 'system', 'value', 'goal', ''];

function machine(results) {
  const m = results.meta;
  return `${m.cpus} × ${m.cpuModel}, ${m.platform}, Node ${m.node}, oidc-provider ${m.oidcProvider}; `
    + `load average ${m.loadavgAtStart?.join(' ')} at start, ${m.loadavgAtEnd?.join(' ')} at end; `
    + `servers pinned to CPU ${m.pinning.server ?? '(none)'}, load generator to CPU ${m.pinning.loadGenerator ?? '(none)'}; `
    + `commit ${m.commit}; ${m.totalSeconds} s`;
}

function floorRowsWithPair(results) {
  const rows = floorRows(results);
  const two = results.floors?.twoProcesses;
  if (two) rows.push(['es256_sign × 2 processes', `two processes at once, one per CPU (${two.perProcess.join(' + ')}); ÷ one = ${two.ratio}`, '', fmt(two.es256_sign)]);
  return rows;
}

export function textReport(results) {
  const out = [];
  const floors = floorRowsWithPair(results);
  if (floors.length) {
    out.push(`Floors (ops/s; "server CPU" = pinned like the server, CPU ${results.floors.serverCpuSet ?? 'unpinned'})`);
    out.push(table(floors, ['floor', 'what', 'server CPU', `all ${results.meta.cpus} CPUs`]), '');
  }
  const ops = operationRows(results);
  if (ops.length) {
    const p = results.meta.plan;
    out.push(`Operations (median of ${p?.rounds} × ${p?.duration}s runs at ${results.meta.settings.connections} connections; `
      + `fixed rate: ${results.meta.settings.latencyConnections} connection, ${results.meta.settings.latencySeconds}s)`);
    out.push(table(ops, OP_HEADER), '');
  }
  const flood = floodRows(results);
  if (flood.length) out.push('client_credentials latency (ms) at a fixed rate, alone and during a password-grant flood', table(flood, FLOOD_HEADER), '');
  const scale = scaleRows(results);
  if (scale.length) out.push('Two processes on the same Postgres + Redis vs one', table(scale, SCALE_HEADER), '');
  const mem = memoryRows(results);
  if (mem.length) out.push('Memory', table(mem, MEMORY_HEADER), '');
  const goals = goalRows(results);
  if (goals.length) out.push('Targets', table(goals, GOAL_HEADER, ['l', 'l', 'r', 'l', 'l']), '');
  for (const s of results.skipped) {
    out.push(`skipped: ${[s.scenario, s.operation, s.target].filter(Boolean).join(' on ')}: ${s.reason}`);
  }
  for (const [sys, f] of Object.entries(results.flood ?? {})) if (f.error) out.push(`flood on ${sys} failed: ${f.error}`);
  for (const [sys, s] of Object.entries(results.scale ?? {})) if (s.error) out.push(`scale on ${sys} failed: ${s.error}`);
  if (results.error) out.push(`error: ${results.error.split('\n')[0]}`);
  out.push('', `machine: ${machine(results)}`);
  return `${out.join('\n')}\n`;
}

/** The same tables in Markdown, for README's "Benchmarks" section. */
export function markdownReport(results) {
  const out = [`Machine: ${machine(results)}.`, ''];
  const goals = goalRows(results);
  if (goals.length) out.push(markdownTable(goals, GOAL_HEADER, ['l', 'l', 'r', 'l', 'l']), '');
  const ops = operationRows(results);
  if (ops.length) out.push(markdownTable(ops, OP_HEADER), '');
  const flood = floodRows(results);
  if (flood.length) out.push(markdownTable(flood, FLOOD_HEADER), '');
  const scale = scaleRows(results);
  if (scale.length) out.push(markdownTable(scale, SCALE_HEADER), '');
  const mem = memoryRows(results);
  if (mem.length) out.push(markdownTable(mem, MEMORY_HEADER), '');
  const floors = floorRowsWithPair(results);
  if (floors.length) out.push(markdownTable(floors, ['floor', 'what', 'server CPU', `all ${results.meta.cpus} CPUs`]), '');
  return `${out.join('\n')}\n`;
}
