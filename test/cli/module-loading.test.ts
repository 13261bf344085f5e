import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';

// The CLI promises that admin commands, which only talk HTTP to a running
// server, load none of the server's heavy dependencies: each module the
// child process resolves is recorded by a module hook and checked here.
const NODE = join(process.cwd(), 'node_modules/.bin/node');
const MAIN = join(process.cwd(), 'src/main.ts');
const RECORDER = join(process.cwd(), 'test/support/record-modules.mjs');
const HEAVY = /\/node_modules\/(oidc-provider|argon2|ioredis|knex|knex-pglite|pg|pg-[a-z-]+|@electric-sql|koa|@koa)\//;

describe('tessera admin commands load only what they need', () => {
  let server: TestServer;
  let scratch: string;
  beforeAll(async () => {
    server = await startTestServer();
    scratch = mkdtempSync(join(tmpdir(), 'tessera-modules-'));
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  let runs = 0;
  /** Runs the CLI as an operator does; returns its exit code and the URLs of the modules it resolved. */
  function tesseraRecorded(args: string[]): Promise<{ code: number | null; stderr: string; modules: string[] }> {
    const record = join(scratch, `modules-${runs++}.txt`);
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ISSUER: server.issuer, KEYS_DIR: server.config.keysDir, LOG_LEVEL: 'silent', RECORD_MODULES: record };
    return new Promise((resolve, reject) => {
      const child = spawn(NODE, ['--import', RECORDER, MAIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => { stderr += chunk; });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr, modules: readFileSync(record, 'utf8').split('\n').filter(Boolean) }));
    });
  }

  test.each([
    [['users', 'list']],
    [['clients', 'list']],
    [['resources', 'list']],
    [['grants', 'list', '--client', 'tessera-admin']],
    [['tokens', 'revoke', 'unknown-jti']],
    [['keys', 'list']],
    [['audit', 'list', '--limit', '1']],
  ])('tessera %j: no oidc-provider, argon2, ioredis, knex, pg, PGlite or Koa module', async (args) => {
    const run = await tesseraRecorded([...args, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // the recorder works: the CLI's own modules are in the list
    expect(run.modules).toContainEqual(expect.stringMatching(/\/src\/cli\/admin-client\.ts$/));
    expect(run.modules.filter((url) => HEAVY.test(url))).toEqual([]);
  });

  test('help loads none of them either', async () => {
    const run = await tesseraRecorded(['users', 'create', '--help']);
    expect(run.code).toBe(0);
    expect(run.modules).toContainEqual(expect.stringMatching(/\/src\/cli\/index\.ts$/));
    expect(run.modules.filter((url) => HEAVY.test(url))).toEqual([]);
  });
});
