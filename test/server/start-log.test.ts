// Issue 10, "the start log says what was generated where (never a secret)":
// a first start names each file it wrote into KEYS_DIR and the directory of
// the embedded database; a restart, which generates nothing, says only where
// the database is. keys/README.md describes exactly the files written.
import { describe, test, expect, afterAll } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { REPO_ROOT } from '../support/process.ts';

type Line = { level: number; msg: string; path?: string };

async function startLogged(options: { dir?: string; port?: number } = {}): Promise<{ server: TestServer; lines: Line[] }> {
  const lines: Line[] = [];
  const server = await startTestServer({ database: 'file', ...options, logDestination: { write: (line: string) => { lines.push(JSON.parse(line)); } } });
  return { server, lines };
}

describe('the start log', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
  });

  test('first start: one info line per generated file (signing keys, secrets, admin credentials) and the new database, with their paths; nothing secret', async () => {
    const { server, lines } = await startLogged();
    dir = server.dir;
    const keysDir = server.config.keysDir;
    await server.stop({ keep: true });

    const info = lines.filter((l) => l.level === 30).map((l) => l.msg);
    expect(info).toEqual(expect.arrayContaining([
      `generated signing keys (RS256, ES256) into ${join(keysDir, 'signing-keys.json')}`,
      `generated secrets (cookie keys, CSRF and DPoP nonce secrets) into ${join(keysDir, 'secrets.json')}`,
      `admin client created; its credentials were written to ${join(keysDir, 'admin-client.json')} (the tessera CLI reads them)`,
      `created the embedded database (PGlite) in ${join(server.config.dataDir, 'pgdata')}`,
    ]));
    // every file KEYS_DIR holds was named, and keys/README.md describes exactly those files
    const written = readdirSync(keysDir).sort();
    for (const file of written) expect(info.some((msg) => msg.includes(join(keysDir, file)))).toBe(true);
    const described = [...readFileSync(join(REPO_ROOT, 'keys/README.md'), 'utf8').matchAll(/^- `([^`]+)`/gm)].map((m) => m[1]).sort();
    expect(described).toEqual(written);

    // what those files hold appears nowhere in the log
    const logged = JSON.stringify(lines);
    const admin = JSON.parse(readFileSync(join(keysDir, 'admin-client.json'), 'utf8'));
    const secrets = JSON.parse(readFileSync(join(keysDir, 'secrets.json'), 'utf8'));
    const signing = JSON.parse(readFileSync(join(keysDir, 'signing-keys.json'), 'utf8'));
    for (const secret of [admin.client_secret, ...secrets.cookieKeys, secrets.csrfSecret, secrets.dpopNonceSecret, ...signing.keys.map((k: { d: string }) => k.d)]) {
      expect(logged.includes(secret)).toBe(false);
    }
  });

  test('a restart generates nothing and says so: only where the database is', async () => {
    const { server, lines } = await startLogged({ dir });
    await server.stop({ keep: true });
    const info = lines.filter((l) => l.level === 30).map((l) => l.msg);
    expect(info).toContain(`embedded database (PGlite) in ${join(server.config.dataDir, 'pgdata')}`);
    expect(info.filter((msg) => /generated|created|written/.test(msg))).toEqual([]);
  });
});
