// `tessera users set-password U --reset-link`: the real CLI against a running
// server prints a link that opens the reset page (issue 11).
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminCliEnv, runTesseraCli } from '../support/cli.ts';



describe('tessera users set-password U --reset-link', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await server.createUser({ username: 'erin', password: 'erin-password-1' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const tessera = (args: string[]) => runTesseraCli(args, adminCliEnv(server));

  test('prints a one-time link (JSON and human), which opens the reset page; a newer link replaces it', async () => {
    const json = await tessera(['users', 'set-password', 'erin', '--reset-link', '--expires-in', '600', '--json']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const answer = JSON.parse(json.stdout) as { url: string; expires_at: string };
    expect(answer.url).toMatch(new RegExp(`^${server.issuer}/account/reset/[A-Za-z0-9_-]{43}$`));
    const lifetime = Date.parse(answer.expires_at) - Date.now();
    expect(lifetime).toBeGreaterThan(500_000);
    expect(lifetime).toBeLessThanOrEqual(600_000);
    expect((await fetch(answer.url)).status).toBe(200);

    const human = await tessera(['users', 'set-password', 'erin', '--reset-link']);
    expect(human.code).toBe(0);
    const [link, note] = human.stdout.trim().split('\n');
    expect(link).toMatch(/\/account\/reset\//);
    expect(note).toContain('works once');
    expect((await fetch(link)).status).toBe(200);
    expect((await fetch(answer.url)).status).toBe(404);
  });

  test('mistakes: no --reset-link, an unknown user, a lifetime out of bounds, a lifetime that is not a number', async () => {
    const without = await tessera(['users', 'set-password', 'erin']);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('--reset-link');
    const unknown = await tessera(['users', 'set-password', 'nobody', '--reset-link']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no such user/);
    const tooShort = await tessera(['users', 'set-password', 'erin', '--reset-link', '--expires-in', '5']);
    expect(tooShort.code).not.toBe(0);
    expect(tooShort.stderr).toContain('expires_in');
    const notNumber = await tessera(['users', 'set-password', 'erin', '--reset-link', '--expires-in', 'soon']);
    expect(notNumber.code).toBe(2);
  });
});
