// Targets: Tessera itself, started the way an operator starts it (`tessera serve`) and set
// up through its CLI (which goes through the admin API), with the same resources, scopes and
// signing keys as the baseline.
//
// DRAFT, written before Tessera could run: the CLI flags and JSON fields follow
// ../../../shared/DESIGN.md ("External interface"); check them against the real CLI when
// it lands. A target that fails to start is reported under "skipped" and the run goes on.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

import {
  API_RESOURCE, OPAQUE_RESOURCE, REDIRECT_URI, RESOURCE_SCOPE,
} from '../baseline-constants.js';
import { ensureBenchJwks } from '../lib/keys.js';
import { getFreePort, startServer } from '../lib/load.js';
import { CookieJar, authorizationCodeFlow, submitInteractionForms } from '../lib/oauth.js';

const execFileAsync = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const entry = ['--import', './src/register.js', 'src/main.ts'];

async function tessera(args, env, stdin) {
  const child = execFileAsync(process.execPath, [...entry, ...args, '--json'], {
    cwd: root, env: { ...process.env, ...env }, timeout: 30_000,
  });
  if (stdin !== undefined) {
    child.child.stdin.end(stdin);
  }
  const { stdout } = await child;
  return stdout.trim() ? JSON.parse(stdout.trim().split('\n').pop()) : {};
}

/**
 * @param {{ name: string, description: string, env?: () => Record<string,string>,
 *           available?: () => true | string }} options
 */
export function createTesseraTarget({ name, description, env: extraEnv = () => ({}), available }) {
  return {
    name,
    description,
    available() {
      if (!existsSync(join(root, 'src/main.ts')) || !existsSync(join(root, 'src/register.js'))) {
        return 'Tessera is not built yet (src/main.ts, src/register.js)';
      }
      return available ? available() : true;
    },
    async start({ jwksFile, cpu, workDir }) {
      const port = await getFreePort();
      const issuer = `http://127.0.0.1:${port}`;
      const keysDir = join(workDir, 'keys');
      await mkdir(keysDir, { recursive: true });
      // Same signing keys as the baseline (keys/README.md: private JWKs, RS256 + ES256).
      await writeFile(join(keysDir, 'signing-keys.json'), JSON.stringify(await ensureBenchJwks(jwksFile)), { mode: 0o600 });
      const env = {
        PORT: String(port),
        HOST: '127.0.0.1',
        ISSUER: issuer,
        DATA_DIR: join(workDir, 'data'),
        KEYS_DIR: keysDir,
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
        ...extraEnv(),
      };
      const server = await startServer({
        name,
        args: [...entry, 'serve'],
        cwd: root,
        env,
        cpu,
        ready: null,
        readyUrl: `${issuer}/readyz`,
        timeoutMs: 60_000,
      });
      try {
        const run = randomBytes(4).toString('hex');
        for (const [identifier, format] of [[API_RESOURCE, 'jwt'], [OPAQUE_RESOURCE, 'opaque']]) {
          try {
            await tessera(['resources', 'create', '--identifier', identifier, '--scopes', RESOURCE_SCOPE,
              '--token-format', format], env);
          } catch (err) {
            // A reused Postgres database may already know it.
            if (!/exist|conflict|409/i.test(`${err.stdout}${err.stderr}`)) throw err;
          }
        }
        const client = await tessera(['clients', 'create', '--name', `bench-${run}`,
          '--grant-types', 'client_credentials,authorization_code,refresh_token',
          '--redirect-uris', REDIRECT_URI,
          '--scopes', `openid offline_access ${RESOURCE_SCOPE}`,
          '--first-party'], env);
        const username = `bench-${run}`;
        const password = randomBytes(18).toString('base64url');
        await tessera(['users', 'create', '--username', username, '--password-stdin'], env, `${password}\n`);

        // One login, then single sign-on for every further chain: a login per chain would
        // measure argon2 and run into the per-user login rate limit.
        const jar = new CookieJar();
        const onInteraction = submitInteractionForms({ username, password });
        const instance = {
          url: issuer,
          clientId: client.client_id,
          clientSecret: client.client_secret,
          jwtResource: API_RESOURCE,
          opaqueResource: OPAQUE_RESOURCE,
          resourceScope: RESOURCE_SCOPE,
          tokenPath: '/token',
          introspectionPath: '/token/introspection',
          jwtIntrospectionPath: '/token/introspection',
          refreshParams: { resource: API_RESOURCE },
          obtainRefreshToken: async () => {
            const tokens = await authorizationCodeFlow(instance, {
              redirectUri: REDIRECT_URI,
              scope: `openid offline_access ${RESOURCE_SCOPE}`,
              resource: API_RESOURCE,
              prompt: 'consent',
              onInteraction,
              jar,
            });
            if (!tokens.refresh_token) throw new Error(`${name} issued no refresh token`);
            return tokens.refresh_token;
          },
          pid: server.pid,
          pinned: server.pinned,
          log: server.log,
          stop: () => server.stop(),
        };
        return instance;
      } catch (err) {
        await server.stop();
        const detail = `${err.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
        throw new Error(`${err.message}${detail ? ` (${detail})` : ''}\n${server.log.slice(-10).join('\n')}`);
      }
    },
  };
}

export const tesseraEmbedded = createTesseraTarget({
  name: 'tessera-embedded',
  description: 'Tessera, embedded PGlite (accounts, clients, token state in SQL)',
});

// Needs a disposable Postgres database and Redis: BENCH_DATABASE_URL, BENCH_REDIS_URL.
export const tesseraPgRedis = createTesseraTarget({
  name: 'tessera-pg-redis',
  description: 'Tessera, Postgres + Redis (BENCH_DATABASE_URL, BENCH_REDIS_URL)',
  available: () => (process.env.BENCH_DATABASE_URL && process.env.BENCH_REDIS_URL
    ? true : 'set BENCH_DATABASE_URL and BENCH_REDIS_URL to a disposable Postgres database and Redis'),
  env: () => ({ DATABASE_URL: process.env.BENCH_DATABASE_URL, REDIS_URL: process.env.BENCH_REDIS_URL }),
});
