// Does the password grant's response time tell an unknown username from a wrong
// password? Starts Tessera in this process (embedded PGlite in memory, the
// configured argon2 parameters: config/default.json unless CONFIG_FILE says
// otherwise), creates users and one first-party client, then alternates
// "unknown user" and "wrong password" requests and prints the median latency
// of each. Every request names a username not tried before, as a probe for an
// account would (the lockout counters of a name are then new in both cases).
//
//   node bench/password-timing.ts [--tries 50] [--warmup 5]
//
// Lockout is raised out of the way for the run (it would lock the user after
// 10 failures); everything else is the real request path.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.ts';
import { startServer } from '../src/server/index.ts';
import { clientMetadataValidator } from '../src/provider/index.ts';
import { createLogger } from '../src/observability/index.ts';
import { passwordGrant } from '../test/support/oauth.ts';

const { values: opt } = parseArgs({
  options: {
    tries: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '5' },
  },
});
const tries = Number(opt.tries);
const warmup = Number(opt.warmup);

const dir = mkdtempSync(join(tmpdir(), 'tessera-password-timing-'));
// only CONFIG_FILE is honoured from the environment: no Redis, no Postgres
const config = loadConfig({ CONFIG_FILE: process.env.CONFIG_FILE }, {
  port: 0,
  host: '127.0.0.1',
  dataDir: join(dir, 'data'),
  keysDir: join(dir, 'keys'),
  logLevel: 'silent',
  lockout: { maxConsecutiveFailures: 1_000_000, baseDelaySeconds: 1, maxDelaySeconds: 1, perIpPerMinute: 1_000_000, perIpAndUsernamePerMinute: 1_000_000 },
});
const server = await startServer(config, { inMemoryDatabase: true, env: {}, logger: createLogger({ level: 'silent' }) });

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

try {
  const password = 'correct horse battery staple';
  const passwordHash = await server.services.hasher.hash(password);
  for (let i = 0; i < warmup + tries; i++) await server.services.accounts.create({ username: `timing-user-${i}`, passwordHash });
  const { client, clientSecret } = await server.services.clients.create(
    { name: 'timing', firstParty: true, grantTypes: ['password'], scopes: ['openid'] },
    clientMetadataValidator(server.provider as never),
  );
  const credentials = { clientId: client.clientId, clientSecret };

  async function attempt(username: string): Promise<{ ms: number; status: number; body: string }> {
    const started = performance.now();
    const res = await passwordGrant(server.url, credentials, { username, password: 'not the password', scope: 'openid' });
    return { ms: performance.now() - started, status: res.status, body: res.text };
  }

  for (let i = 0; i < warmup; i++) {
    await attempt(`timing-user-${tries + i}`);
    await attempt(`nobody-${i}`);
  }
  const unknown: number[] = [];
  const wrong: number[] = [];
  const bodies = new Set<string>();
  for (let i = 0; i < tries; i++) {
    // alternate which goes first, so drift of the machine falls on both alike
    let u;
    let w;
    if (i % 2) {
      u = await attempt(`unknown-${i}`);
      w = await attempt(`timing-user-${i}`);
    } else {
      w = await attempt(`timing-user-${i}`);
      u = await attempt(`unknown-${i}`);
    }
    unknown.push(u.ms);
    wrong.push(w.ms);
    bodies.add(`${u.status} ${u.body}`).add(`${w.status} ${w.body}`);
  }

  const { memoryCost, timeCost, parallelism } = config.passwordHashing;
  const m = { unknown: median(unknown), wrong: median(wrong) };
  console.log(`argon2id m=${memoryCost} t=${timeCost} p=${parallelism}, ${tries} tries each (after ${warmup} warm-up pairs)`);
  console.log(`median unknown user:   ${m.unknown.toFixed(2)} ms`);
  console.log(`median wrong password: ${m.wrong.toFixed(2)} ms`);
  console.log(`difference:            ${(m.unknown - m.wrong).toFixed(2)} ms (${((m.unknown / m.wrong - 1) * 100).toFixed(1)} %)`);
  console.log(`distinct answers:      ${bodies.size}${bodies.size === 1 ? ` (${[...bodies][0]})` : `: ${[...bodies].join(' | ')}`}`);
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
