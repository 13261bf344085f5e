// Targets: Tessera itself, started the way an operator starts it (`tessera serve`, what
// `npm start` runs) and set up through its CLI (which goes through the admin API), with the
// same resources, scopes and signing keys as the baseline.
//
//   tessera-embedded   defaults: embedded PGlite for everything (token state in SQL)
//   tessera-pg-redis   Postgres + Redis. By default a fresh database on the machine's
//                      Postgres (127.0.0.1:5432, dropped afterwards) and a random key prefix
//                      on its Redis (127.0.0.1:6379, its keys deleted afterwards);
//                      BENCH_DATABASE_URL / BENCH_REDIS_URL point it elsewhere (a given
//                      database is used as it is and not dropped; the prefix still applies).
//
// A target that fails to start is reported under "skipped" and the run goes on.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import argon2 from 'argon2';

import {
  API_RESOURCE, OPAQUE_RESOURCE, REDIRECT_URI, RESOURCE_SCOPE,
} from '../baseline-constants.js';
import { ARGON2_PARAMS } from '../lib/floors.js';
import { ensureBenchJwks } from '../lib/keys.js';
import { getFreePort, startServer } from '../lib/load.js';
import { CookieJar, authorizationCodeFlow } from '../lib/oauth.js';
import {
  createBenchDatabase, deleteRedisKeys, probePostgres, probeRedis,
} from '../lib/stores.js';
import { POSTGRES_URL, REDIS_URL } from '../../test/support/local-services.ts';

const execFileAsync = promisify(execFile);
const ownRoot = fileURLToPath(new URL('../..', import.meta.url));
// What `npm start` runs (`node [node options] src/main.ts serve`, native type
// stripping), without its final `serve`: the CLI's other commands use it too.
function startCommandEntry(root) {
  const start = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts?.start ?? '';
  const words = start.trim().split(/\s+/);
  if (words[0] !== 'node' || words.at(-1) !== 'serve') return ['src/main.ts'];
  return words.slice(1, -1);
}
const NEEDED_COMMANDS = ['resources create', 'clients create', 'users import'];

// Enough accounts that neither the per-account attempt counter nor the per-(IP, username)
// limit of the brute-force guard is reached by requests in flight at the same time, even
// during the password flood (lockout defaults: 10 and 10). Every account has the same
// password, hashed once here at Tessera's default argon2id parameters, so logins never
// trigger a rehash.
export const BENCH_USERS = 64;

/** Default-on Postgres and Redis of this machine: the test setup's, unless overridden. */
const LOCAL_POSTGRES_ADMIN_URL = POSTGRES_URL;
const LOCAL_REDIS_URL = REDIS_URL;

const cliChecked = new Map();
/** true, or why the checkout at `root` cannot be benchmarked. */
function cliReady(root, entry) {
  if (cliChecked.has(root)) return cliChecked.get(root);
  let ready;
  if (!existsSync(join(root, 'src/main.ts'))) {
    ready = `Tessera is not built yet (no ${join(root, 'src/main.ts')})`;
  } else if (!existsSync(join(root, 'node_modules'))) {
    ready = `${root} has no node_modules (npm ci there, or a symlink to another checkout's)`;
  } else {
    const help = spawnSync(process.execPath, [...entry, 'help'], { cwd: root, encoding: 'utf8', timeout: 15_000 });
    const usage = `${help.stdout}${help.stderr}`;
    const missing = NEEDED_COMMANDS.filter((c) => !usage.includes(c));
    ready = missing.length ? `the tessera CLI lacks: ${missing.join(', ')}` : true;
  }
  cliChecked.set(root, ready);
  return ready;
}

async function tesseraCli(root, entry, args, env, stdin) {
  const child = execFileAsync(process.execPath, [...entry, ...args, '--json'], {
    cwd: root, env: { ...process.env, ...env }, timeout: 30_000,
  });
  if (stdin !== undefined) child.child.stdin.end(stdin);
  const { stdout } = await child;
  return stdout.trim() ? JSON.parse(stdout.trim().split('\n').pop()) : {};
}

/**
 * @param {{ name: string, description: string,
 *           available?: () => Promise<true | string> | true | string,
 *           stores?: (workDir: string, run: string) => Promise<{ env: object, config?: object, redis?: object, cleanup: () => Promise<void> }>,
 *           rateLimits?: object, root?: string }} options
 * rateLimits: the config file's rateLimits section (default: every limit on at 1,000,000 a
 * minute, so that the limiter runs on every request and never refuses one).
 * root: the checkout whose `src/main.ts` is started and whose CLI sets it up (default: this
 * one; `--base-checkout` starts an older commit's from its own worktree, side by side).
 */
export function createTesseraTarget({
  name, description, available, stores, rateLimits = BENCH_RATE_LIMITS, root = ownRoot,
}) {
  const entry = startCommandEntry(root);
  const tessera = (...args) => tesseraCli(root, entry, ...args);
  return {
    name,
    description,
    async available() {
      const extra = available ? await available() : true;
      return extra === true ? cliReady(root, entry) : extra;
    },
    // nodeArgs: extra Node options for the server processes (bench/profile.js: --cpu-prof)
    // env: environment variables of this start only; config: sections added to its config file
    // (bench/lib/metrics-cost.js: metrics.enabled false)
    async start({
      jwksFile, cpu, workDir, nodeArgs = [], env: startEnv = {}, config: startConfig = {},
    }) {
      const run = randomBytes(4).toString('hex');
      const keysDir = join(workDir, 'keys');
      await mkdir(keysDir, { recursive: true });
      // Same signing keys as the baseline (src/keys/keystore.ts reads { keys: [private JWKs] }).
      await writeFile(join(keysDir, 'signing-keys.json'), JSON.stringify(await ensureBenchJwks(jwksFile)), { mode: 0o600 });
      const storeSetup = stores ? await stores(workDir, run) : { env: {}, cleanup: async () => {} };
      const configFile = join(workDir, 'config.json');
      await writeFile(configFile, JSON.stringify({ ...storeSetup.config, rateLimits, ...startConfig }), { mode: 0o600 });
      const baseEnv = {
        // nothing inherited from the shell that runs the bench
        DATABASE_URL: '',
        REDIS_URL: '',
        CONFIG_FILE: configFile,
        DATA_DIR: join(workDir, 'data'),
        KEYS_DIR: keysDir,
        // The default level: an access-log line per request, as `npm start` runs it. It goes
        // to a file (see launch), as it would go to a log file or a collector.
        LOG_LEVEL: 'info',
        NODE_ENV: 'production',
        ...storeSetup.env,
        // e.g. BENCH_TESSERA_ENV='{"LOG_LEVEL":"warn"}' to see what the access log costs
        ...(process.env.BENCH_TESSERA_ENV ? JSON.parse(process.env.BENCH_TESSERA_ENV) : {}),
        ...startEnv,
      };
      const servers = [];
      // One `tessera serve` process. Further ones (startReplica) share the stores and the
      // keys directory: the layout of "Running several instances" in the README.
      const launch = async (processCpu, label) => {
        const port = await getFreePort();
        const url = `http://127.0.0.1:${port}`;
        const env = {
          ...baseEnv, PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer ?? url,
        };
        const stdoutFile = join(workDir, `${label}.log`);
        const server = await startServer({
          name: label,
          args: [...nodeArgs, ...entry, 'serve'],
          cwd: root,
          env,
          cpu: processCpu,
          ready: null,
          readyUrl: `${url}/readyz`,
          timeoutMs: 60_000,
          stdoutFile,
        }).catch(async (err) => {
          const tail = (await readFile(stdoutFile, 'utf8').catch(() => '')).trim().split('\n').slice(-10).join('\n');
          throw new Error(`${err.message}${tail ? `\n${tail}` : ''}`);
        });
        servers.push(server);
        return { server, url, env };
      };
      let issuer;
      let first;
      try {
        first = await launch(cpu, name);
      } catch (err) {
        await storeSetup.cleanup().catch(() => {});
        throw err;
      }
      issuer = first.url;
      const { env } = first;
      const stopAll = async () => {
        await Promise.all(servers.map((s) => s.stop()));
        await storeSetup.cleanup();
      };

      try {
        await Promise.all([[API_RESOURCE, 'jwt'], [OPAQUE_RESOURCE, 'opaque']].map(async ([identifier, format]) => {
          try {
            await tessera(['resources', 'create', '--identifier', identifier, '--scopes', RESOURCE_SCOPE,
              '--token-format', format], env);
          } catch (err) {
            // A reused Postgres database (BENCH_DATABASE_URL) may already know it.
            if (!/exist|conflict|409/i.test(`${err.stdout}${err.stderr}`)) throw err;
          }
        }));
        const password = randomBytes(18).toString('base64url');
        const hash = await argon2.hash(password, ARGON2_PARAMS);
        const users = Array.from({ length: BENCH_USERS }, (_, i) => ({ username: `bench-${run}-${i}`, password }));
        const [client, thirdParty, imported] = await Promise.all([
          // first party: skips consent, may use the password grant
          tessera(['clients', 'create', '--name', `bench-${run}`,
            '--grant-types', 'client_credentials,authorization_code,refresh_token,password',
            '--redirect-uris', REDIRECT_URI,
            '--scopes', `openid offline_access ${RESOURCE_SCOPE}`,
            '--first-party'], env),
          // third party: the authorization code round trip shows the consent page
          tessera(['clients', 'create', '--name', `bench-${run}-app`,
            '--grant-types', 'authorization_code',
            '--redirect-uris', REDIRECT_URI,
            '--scopes', `openid ${RESOURCE_SCOPE}`], env),
          tessera(['users', 'import', '-'], env,
            `${users.map((u) => JSON.stringify({ username: u.username, password_hash: hash })).join('\n')}\n`),
        ]);
        if (imported.imported !== BENCH_USERS) throw new Error(`users import: ${JSON.stringify(imported).slice(0, 300)}`);

        // Refresh-token preparation: one login, then single sign-on for every further chain
        // (a login per chain would measure argon2). Each flow gets its own copy of the
        // signed-in jar, so concurrent flows keep their own interaction cookies.
        const ssoJar = new CookieJar();
        let signedIn;
        const instance = {
          url: issuer,
          clientId: client.client_id,
          clientSecret: client.client_secret,
          jwtResource: API_RESOURCE,
          opaqueResource: OPAQUE_RESOURCE,
          resourceScope: RESOURCE_SCOPE,
          introspectionPath: '/token/introspection',
          jwtIntrospectionPath: '/token/introspection',
          refreshParams: { resource: API_RESOURCE },
          passwordUsers: users,
          async obtainRefreshToken() {
            const flow = (jar) => authorizationCodeFlow(instance, {
              redirectUri: REDIRECT_URI,
              scope: `openid offline_access ${RESOURCE_SCOPE}`,
              resource: API_RESOURCE,
              prompt: 'consent',
              user: users[0],
              jar,
            });
            signedIn ??= flow(ssoJar);
            const tokens = await signedIn.then(() => flow(ssoJar.clone()));
            if (!tokens.refresh_token) throw new Error(`${name} issued no refresh token`);
            return tokens.refresh_token;
          },
          // authorize → login page (argon2id) → consent page → code → token, new session
          // every time; user `i` of the pool.
          async authorizationCodeRoundTrip(i) {
            const user = users[i % users.length];
            const tokens = await authorizationCodeFlow(
              { url: issuer, clientId: thirdParty.client_id, clientSecret: thirdParty.client_secret },
              {
                redirectUri: REDIRECT_URI,
                scope: `openid ${RESOURCE_SCOPE}`,
                resource: API_RESOURCE,
                prompt: 'consent',
                user,
              },
            );
            if (!tokens.access_token || !tokens.id_token) throw new Error(`${name}: no access or ID token`);
            return tokens;
          },
          redis: storeSetup.redis,
          processes: () => servers.filter((s) => !s.exited).map((s) => ({ name: s.name, pid: s.pid })),
          pid: first.server.pid,
          pinned: first.server.pinned,
          log: first.server.log,
          // A further `tessera serve` on the same stores, keys and issuer (several instances).
          replicas: Boolean(stores?.shared),
          async startReplica({ cpu: replicaCpu }) {
            const { server, url } = await launch(replicaCpu, `${name}-2`);
            return { url, pid: server.pid, pinned: server.pinned, stop: () => server.stop() };
          },
          stop: stopAll,
        };
        return instance;
      } catch (err) {
        await stopAll().catch(() => {});
        const detail = `${err.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
        throw new Error(`${err.message}${detail ? ` (${detail})` : ''}\n${first.server.log.slice(-10).join('\n')}`);
      }
    },
  };
}

/** Every limit on and never reached: what the limiter costs when it refuses nothing. */
export const BENCH_RATE_LIMITS = Object.fromEntries([
  'tokenPerClient', 'tokenPerIp', 'introspectionPerClient', 'revocationPerClient', 'authorizationPerIp', 'pagesPerIp', 'deviceCodePerIp', 'adminPerClient',
].map((rule) => [rule, { limit: 1_000_000, windowSeconds: 60 }]));
const NO_RATE_LIMITS = Object.fromEntries(Object.keys(BENCH_RATE_LIMITS).map((rule) => [rule, false]));

export const tesseraEmbedded = createTesseraTarget({
  name: 'tessera-embedded',
  description: 'Tessera on embedded defaults: PGlite for accounts, clients and token state',
});

const postgresAdminUrl = () => process.env.BENCH_DATABASE_URL ?? LOCAL_POSTGRES_ADMIN_URL;
const redisUrl = () => process.env.BENCH_REDIS_URL ?? LOCAL_REDIS_URL;

async function pgRedisStores(workDir, run) {
  let databaseUrl = process.env.BENCH_DATABASE_URL;
  let dropDatabase = async () => {};
  if (!databaseUrl) {
    const created = await createBenchDatabase(LOCAL_POSTGRES_ADMIN_URL, `tessera_bench_${run}`);
    databaseUrl = created.url;
    dropDatabase = created.drop;
  }
  const redis = { url: redisUrl(), prefix: `bench:${run}:` };
  return {
    env: { DATABASE_URL: databaseUrl, REDIS_URL: '' },
    config: { redis: { url: redis.url, keyPrefix: redis.prefix } },
    redis,
    async cleanup() {
      const errors = [];
      await deleteRedisKeys(redis.url, redis.prefix).catch((e) => errors.push(`redis: ${e.message}`));
      await dropDatabase().catch((e) => errors.push(`postgres: ${e.message}`));
      if (errors.length) throw new Error(errors.join('; '));
    },
  };
}
pgRedisStores.shared = true;

export const tesseraPgRedis = createTesseraTarget({
  name: 'tessera-pg-redis',
  description: 'Tessera on Postgres (accounts, clients) + Redis (token state, brute-force counters)',
  async available() {
    const pg = await probePostgres(postgresAdminUrl());
    if (pg !== true) return `Postgres not reachable at ${postgresAdminUrl().replace(/\/\/[^@]*@/, '//')} (${pg}); set BENCH_DATABASE_URL`;
    const redis = await probeRedis(redisUrl());
    if (redis !== true) return `Redis not reachable at ${redisUrl().replace(/\/\/[^@]*@/, '//')} (${redis}); set BENCH_REDIS_URL`;
    return true;
  },
  stores: pgRedisStores,
});

const pgRedisAvailable = tesseraPgRedis.available;

/**
 * `npm run bench -- --compare-rate-limits`: each store layout with the limits off (the
 * reference) and on at 1,000,000 a minute, measured in ABBA order.
 */
export const RATE_LIMIT_COMPARISON_TARGETS = [
  createTesseraTarget({
    name: 'embedded-limits-off', description: 'Tessera embedded (PGlite), every rate limit off', rateLimits: NO_RATE_LIMITS,
  }),
  createTesseraTarget({
    name: 'embedded-limits-on', description: 'Tessera embedded (PGlite), every rate limit on (1,000,000 a minute, never reached)',
  }),
  createTesseraTarget({
    name: 'pg-redis-limits-off', description: 'Tessera on Postgres + Redis, every rate limit off', rateLimits: NO_RATE_LIMITS, stores: pgRedisStores,
  }),
  createTesseraTarget({
    name: 'pg-redis-limits-on', description: 'Tessera on Postgres + Redis, every rate limit on (1,000,000 a minute, never reached; counters in Redis)', stores: pgRedisStores,
  }),
].map((target) => (target.name.startsWith('pg-redis') ? { ...target, available: pgRedisAvailable } : target));

/**
 * `npm run bench -- --base-checkout DIR`: each store layout started from an older commit's
 * checkout (DIR, e.g. a `git worktree` with node_modules linked) and from this one, measured
 * A B A B in the same run: what the commits in between cost the hot paths. Both get the rate
 * limits the older one knows (a rule it does not know would fail its config check; the newer
 * rules guard other routes).
 */
export function checkoutComparisonTargets(baseRoot) {
  const knownTo = (root) => {
    const types = readFileSync(join(root, 'src/config/types.ts'), 'utf8');
    return Object.fromEntries(Object.entries(BENCH_RATE_LIMITS).filter(([rule]) => types.includes(`${rule}:`)));
  };
  const rateLimits = knownTo(baseRoot);
  const pair = (layout, stores) => [
    createTesseraTarget({
      name: `base-${layout}`, description: `Tessera (${layout}) from ${baseRoot}`, root: baseRoot, rateLimits, stores,
    }),
    createTesseraTarget({
      name: `head-${layout}`, description: `Tessera (${layout}) from this checkout`, rateLimits, stores,
    }),
  ];
  return [...pair('embedded'), ...pair('pg-redis', pgRedisStores)]
    .map((target) => (target.name.endsWith('pg-redis') ? { ...target, available: pgRedisAvailableFor(target) } : target));
}
const pgRedisAvailableFor = (target) => async () => {
  const stores = await pgRedisAvailable();
  return stores === true ? target.available() : stores;
};
