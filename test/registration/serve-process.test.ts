// Dynamic registration driven from outside: `node src/main.ts serve` with
// DYNAMIC_REGISTRATION=token and DYNAMIC_REGISTRATION_MAX_CLIENTS from the
// environment (embedded defaults: PGlite in DATA_DIR), an initial access
// token from the real CLI, a registration over HTTP; and a mode that is not
// one stops the process naming the setting.
import { describe, test, expect, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnTessera, waitForOk, type TesseraProcess } from '../support/process.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';

describe('tessera serve with DYNAMIC_REGISTRATION from the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-registration-'));
  const running: TesseraProcess[] = [];
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('token: discovery names /reg, the CLI prints a token, a client registers with it, the cap from the environment holds', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const env = { PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), LOG_LEVEL: 'info', DYNAMIC_REGISTRATION: 'token', DYNAMIC_REGISTRATION_MAX_CLIENTS: '1' };
    const proc = spawnTessera(['serve'], env, port);
    running.push(proc);
    await waitForOk(`${proc.url}/.well-known/openid-configuration`, proc, 30_000);
    const discovery = await (await fetch(`${proc.url}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
    expect(discovery.registration_endpoint).toBe(`${issuer}/reg`);

    const created = await runTesseraCli(['registration', 'tokens', 'create', '--uses', '2', '--json'], adminCliEnv({ issuer, config: { keysDir: env.KEYS_DIR } }));
    expect(created.code).toBe(0);
    const token = created.json.initial_access_token as string;
    const register = (name: string) => fetch(`${proc.url}/reg`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: name, redirect_uris: ['https://app.example.test/cb'], token_endpoint_auth_method: 'none', scope: 'openid' }),
    });
    const first = await register('from outside');
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ client_name: 'from outside', token_endpoint_auth_method: 'none' });
    // DYNAMIC_REGISTRATION_MAX_CLIENTS=1: the second use of the token finds no room
    const second = await register('one too many');
    expect(second.status).toBe(403);
    // neither the token nor the registration access token is in the log
    expect(proc.output()).not.toContain(token);
    expect(proc.output()).not.toMatch(/registration_access_token/);
  });

  test('a mode that is not one stops the CLI (the same configuration loader as serve), naming the setting', async () => {
    const run = await runTesseraCli(['registration', 'tokens', 'list'], { PATH: process.env.PATH, DYNAMIC_REGISTRATION: 'maybe', KEYS_DIR: join(dir, 'keys'), LOG_LEVEL: 'silent' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/dynamicRegistration\.mode must be one of \(off, token, open\)/);
  });
});
