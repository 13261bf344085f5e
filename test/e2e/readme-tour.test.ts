// Issue 10, "done means" 5: the README's five-minute tour, run as written.
//
// The commands are read from README.md, never retyped here: the block after
// `<!-- tour:server -->` starts the server, each line of the block after
// `<!-- tour -->` runs in turn (`sh -c`, from the checkout, as a person types
// it). What the test adds is only the environment of a fresh machine: a free
// PORT, HOST=127.0.0.1 (loopback only), and DATA_DIR/KEYS_DIR in a temp
// directory; LOG_LEVEL=info is the default, set because the test runner
// silences logs. ISSUER stays unset, so it is http://localhost:PORT as in the
// README. The person's part — open the printed URL, sign in, allow — is
// headless Chromium, with the username and password the tour's own
// `users create` line gave.
import { describe, test, expect, afterAll } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { cleanEnv, freePort, REPO_ROOT, spawnCommandLine, waitForOk, type TesseraProcess } from '../support/process.ts';
import { launchChromium } from '../support/chromium.ts';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The command lines of the ```sh block right after `<!-- marker -->`: comments and blank lines dropped, `\` continuations joined. */
function commandsAfter(marker: string): string[] {
  const at = README.indexOf(`<!-- ${marker} -->`);
  if (at === -1) throw new Error(`README.md has no <!-- ${marker} --> marker`);
  const block = /```sh\n([\s\S]*?)```/.exec(README.slice(at));
  if (!block) throw new Error(`no sh block after <!-- ${marker} -->`);
  return block[1].replace(/\\\n\s*/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
}

interface Finished { code: number | null; output: string }

describe('the README tour, as written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tour-'));
  const started: ChildProcess[] = [];
  let server: TesseraProcess | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    // a command still running (the test failed half way) goes with its children: it was started in its own process group
    for (const child of started) if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM');
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One line of the tour, in a shell, from the checkout; `onOutput` sees its output as it comes. */
  function run(commandLine: string, env: Record<string, string>, onOutput: (output: string) => void = () => {}): Promise<Finished> {
    const child = spawn('sh', ['-c', commandLine], { cwd: REPO_ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    started.push(child);
    let output = '';
    const collect = (chunk: Buffer) => { output += chunk.toString(); onOutput(output); };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
  }

  /** The person at the browser: the sign-in page, the consent page, the callback page. */
  async function signInWithBrowser(url: string, user: { username: string; password: string }): Promise<string> {
    browser ??= await launchChromium();
    const page = await browser.newPage();
    await page.goto(url);
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((landed) => landed.hostname === '127.0.0.1' && landed.pathname === '/callback');
    const text = await page.textContent('body');
    await page.close();
    return text ?? '';
  }

  test('npm start, create a user, tessera try, sign in in the browser: the command ends with verified tokens', async () => {
    const serverCommands = commandsAfter('tour:server');
    const tour = commandsAfter('tour');
    expect(serverCommands).toEqual(['npm start']);

    // the credentials the person types are the ones the tour's own command created
    const creation = tour.map((line) => /^echo '([^']+)' \| npx tessera users create --username (\S+)/.exec(line)).find(Boolean);
    expect(creation).toBeTruthy();
    const user = { password: creation![1], username: creation![2] };

    const port = await freePort();
    const env = { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), LOG_LEVEL: 'info' };
    server = spawnCommandLine(serverCommands[0], env, port);
    await waitForOk(`http://127.0.0.1:${port}/.well-known/openid-configuration`, server, 60_000);

    let last: Finished | undefined;
    let callbackPage: Promise<string> | undefined;
    for (const line of tour) {
      last = await run(line, env, (output) => {
        // the sign-in URL, on a line of its own: open it, once
        const url = /^\s*(http:\/\/localhost:\d+\/auth\?\S+)$/m.exec(output)?.[1];
        if (url && !callbackPage) callbackPage = signInWithBrowser(url, user);
      });
      expect({ line, code: last.code, output: last.output }).toEqual({ line, code: 0, output: expect.any(String) });
    }
    expect(callbackPage).toBeDefined();
    expect(await callbackPage).toContain('You can close this window');

    // the last command printed tokens, and said it verified the ID token
    const output = last!.output;
    expect(output).toMatch(/^ {2}access_token: {2}\S+$/m);
    expect(output).toMatch(/^ {2}refresh_token: \S+$/m); // offline_access, granted because the tour asks with prompt=consent
    expect(output).toMatch(/^ID token verified \(RS256/m);
    expect(output).toContain(`"preferred_username": "${user.username}"`);

    // and the ID token it printed verifies here too, against the server's keys
    const idToken = /^ {2}id_token: {6}(\S+)$/m.exec(output)![1];
    const clientId = /client_id: +(\S+)/.exec(output)![1];
    const issuer = `http://localhost:${port}`;
    const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(`http://127.0.0.1:${port}/jwks`)), { issuer, audience: clientId });
    expect(payload.sub).toEqual(expect.any(String));

    // the start log said what it generated where
    const log = server.output();
    for (const file of ['signing-keys.json', 'secrets.json', 'admin-client.json']) expect(log).toContain(join(dir, 'keys', file));
    // Ctrl-C's part: the whole process group ends, the server shuts down gracefully (its lock released)
    expect(await server.stop()).toBe(143); // sh, killed by SIGTERM
    expect(existsSync(join(dir, 'data', 'tessera.lock'))).toBe(false);
  }, 240_000);
});
