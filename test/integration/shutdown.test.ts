// Issue 13, "done means" 6: SIGTERM under load. The real process
// (`node src/main.ts serve`, embedded defaults) serves client_credentials
// token requests from several keep-alive clients; on SIGTERM /readyz answers
// 503 while the token requests still succeed (the drain delay), a request
// whose body is still arriving when the listener closes finishes, no request
// that was sent fails, and the process exits 0. The clients stop sending once
// they have seen the 503, as a load balancer does: a request that opens a
// connection as the listener closes is reset (that race is what the drain
// delay exists to avoid).
import { describe, test, expect, afterAll } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, serverPid, spawnTessera, waitForOk, type TesseraProcess } from '../support/process.ts';

const CLIENTS = 6;

/** Resolves once the process's output contains `text` (its log lines); fails when it exits first. */
async function outputContains(proc: TesseraProcess, text: string): Promise<void> {
  let exited = false;
  void proc.exited.then(() => { exited = true; });
  while (!proc.output().includes(text)) {
    if (exited) throw new Error(`exited before logging "${text}":\n${proc.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The error code under fetch's TypeError ("fetch failed"). */
const codeOf = (error: unknown) => ((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message);

describe('SIGTERM under load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-shutdown-'));
  let proc: TesseraProcess | undefined;
  afterAll(async () => {
    await proc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('/readyz 503 at once, requests keep succeeding through the drain delay, an in-flight request finishes after the listener closed, exit 0', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const keysDir = join(dir, 'keys');
    proc = spawnTessera(['serve'], {
      PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer,
      DATA_DIR: join(dir, 'data'), KEYS_DIR: keysDir, LOG_LEVEL: 'info',
      SHUTDOWN_DRAIN_DELAY_MS: '1500', SHUTDOWN_GRACE_PERIOD_MS: '15000',
    }, port);
    await waitForOk(`${proc.url}/readyz`, proc, 30_000);
    const admin = JSON.parse(readFileSync(join(keysDir, 'admin-client.json'), 'utf8')) as { client_id: string; client_secret: string };
    const authorization = `Basic ${Buffer.from(`${encodeURIComponent(admin.client_id)}:${encodeURIComponent(admin.client_secret)}`).toString('base64')}`;
    const form = `grant_type=client_credentials&resource=${encodeURIComponent(`${issuer}/admin`)}&scope=admin`;

    // the load: each client sends token requests one after another on keep-alive connections (fetch's default)
    // the clients play the load balancer's part: they send until they have seen /readyz answer 503
    // (what the drain delay is for), and every request they sent must succeed
    const failures: string[] = [];
    let succeeded = 0;
    let succeededAfterSignal = 0;
    let signalled = false;
    let balancerNoticed = false;
    const client = async () => {
      while (!balancerNoticed) {
        let res: Response;
        try {
          res = await fetch(`${proc!.url}/token`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
        } catch (error) {
          failures.push(String(codeOf(error)));
          return;
        }
        const body = await res.json() as { access_token?: string };
        if (res.status === 200 && body.access_token) {
          succeeded += 1;
          if (signalled) succeededAfterSignal += 1;
        } else {
          failures.push(`status ${res.status}`);
        }
      }
    };
    const load = Array.from({ length: CLIENTS }, client);
    while (succeeded < 50 && !failures.length) await new Promise((resolve) => setTimeout(resolve, 20));

    // a request in flight when the listener closes: its headers and half its body now, the rest later
    const slow = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${proc!.url}/token`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) },
      }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => { body += chunk.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write(form.slice(0, 20));
      void outputContains(proc!, 'shutdown: listener closed').then(() => req.end(form.slice(20)), reject);
    });

    process.kill(serverPid(proc.child.pid!), 'SIGTERM');
    signalled = true;
    await outputContains(proc, 'shutdown: /readyz answers 503');
    const readiness = await fetch(`${proc.url}/readyz`);
    expect(readiness.status).toBe(503);
    balancerNoticed = true;
    expect(readiness.headers.get('connection')).toBe('close');
    expect(await readiness.json()).toEqual({ status: 'shutting_down' });
    // the drain delay: /readyz says go elsewhere, the listener still serves
    const during = await fetch(`${proc.url}/token`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    expect(during.status).toBe(200);
    expect(during.headers.get('connection')).toBe('close');

    const slowAnswer = await slow;
    expect(slowAnswer.status).toBe(200);
    expect(JSON.parse(slowAnswer.body).access_token).toEqual(expect.any(String));

    // every request sent during the drain (including those on keep-alive connections from before the signal) succeeded
    await Promise.all(load);
    expect(failures).toEqual([]);
    expect(succeededAfterSignal).toBeGreaterThan(0);
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain('shutdown: stores closed');
  }, 60_000);

  test('a second SIGTERM right after the first is ignored; a later one cuts the drain delay short; exit 0 with nothing in flight', async () => {
    const port = await freePort();
    const second = spawnTessera(['serve'], {
      PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}`,
      DATA_DIR: join(dir, 'data-2'), KEYS_DIR: join(dir, 'keys-2'), LOG_LEVEL: 'info',
      // far longer than the test: only a hurried shutdown ends within it
      SHUTDOWN_DRAIN_DELAY_MS: '300000', SHUTDOWN_GRACE_PERIOD_MS: '300000',
    }, port);
    proc = second;
    await waitForOk(`${second.url}/readyz`, second, 30_000);
    const pid = serverPid(second.child.pid!);
    process.kill(pid, 'SIGTERM');
    process.kill(pid, 'SIGTERM'); // as some orchestrators do
    await outputContains(second, 'shutdown: /readyz answers 503');
    expect((await fetch(`${second.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${second.url}/healthz`)).status).toBe(200); // still serving: the repeat did not hurry it
    expect(second.output()).not.toContain('shutting down now');

    await new Promise((resolve) => setTimeout(resolve, 1_100)); // past the window in which a repeat is ignored
    process.kill(pid, 'SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.output()).toContain('shutting down now');
    expect(second.output()).toContain('shutdown: stores closed');
  }, 60_000);
});
