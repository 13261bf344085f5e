/*
 * Issue 9, finding 9: the embedded database's lock. A stale lock must never
 * stop a restart (not when it names our own pid, as after a container
 * restart, nor a pid now used by another process), and a live server on the
 * same DATA_DIR must still be refused with a clear error.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDataDir, processStartTime } from '../../src/db/lock.ts';
import { freePort, NODE_BIN, REPO_ROOT, serverPid, spawnTessera, waitForOk, type TesseraProcess } from '../support/process.ts';

const scratch: string[] = [];
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-lock-'));
  scratch.push(dir);
  return dir;
};
const children: ChildProcess[] = [];
const running: TesseraProcess[] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(running.map((p) => p.stop()));
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const lockFile = (dir: string) => join(dir, 'tessera.lock');
const us = () => ({
  bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
  pidNamespace: readlinkSync('/proc/self/ns/pid'),
});
const exited = (child: ChildProcess) => new Promise((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
  else child.once('exit', resolve);
});

/** A child Node that locks `dir` and says so, then waits (as a running server would). */
async function lockingChild(dir: string): Promise<ChildProcess> {
  const child = spawn(NODE_BIN, ['--input-type=module', '-e', `
    import { lockDataDir } from ${JSON.stringify(join(REPO_ROOT, 'src/db/lock.ts'))};
    await lockDataDir(${JSON.stringify(dir)});
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);
  `], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (chunk) => { err += chunk; });
    child.stdout!.once('data', () => resolve());
    child.once('exit', () => reject(new Error(`the locking child exited: ${err}`)));
  });
  return child;
}

describe('DATA_DIR lock, by simulation', () => {
  test('a stale lock holding our own pid (as after a container restart: pid 1 again) is taken over', async () => {
    const dir = dataDir();
    writeFileSync(lockFile(dir), String(process.pid)); // as the earlier Tessera wrote it
    const release = await lockDataDir(dir);
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8'))).toMatchObject({ pid: process.pid, startTime: processStartTime(process.pid) });
    release();
    expect(existsSync(lockFile(dir))).toBe(false);

    // the same with the current format: our pid, in our namespace, another start time
    writeFileSync(lockFile(dir), JSON.stringify({ pid: process.pid, startTime: '1', ...us() }));
    (await lockDataDir(dir))();
  });

  test('a stale lock whose pid now belongs to another live process (another start time) is taken over', async () => {
    const dir = dataDir();
    const unrelated = spawn('sleep', ['60']);
    children.push(unrelated);
    await new Promise((resolve) => unrelated.once('spawn', resolve));
    const startTime = processStartTime(unrelated.pid!)!;
    writeFileSync(lockFile(dir), JSON.stringify({ pid: unrelated.pid, startTime: String(Number(startTime) - 100), ...us() }));
    const release = await lockDataDir(dir);
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8')).pid).toBe(process.pid);
    release();

    // the earlier format records no start time: a live pid is taken for the holder (and the error says what to do)
    writeFileSync(lockFile(dir), String(unrelated.pid));
    await expect(lockDataDir(dir)).rejects.toThrow(`in use by process ${unrelated.pid}; stop that server, or use another DATA_DIR, or set DATABASE_URL (if no Tessera uses this directory, remove ${lockFile(dir)})`);
  });

  test('a lock from another pid namespace is taken over once it has not been kept fresh, and refused while it is', async () => {
    const dir = dataDir();
    const foreign = { pid: 1, startTime: '42', bootId: us().bootId, pidNamespace: 'pid:[1]' };
    writeFileSync(lockFile(dir), JSON.stringify(foreign));
    const started = Date.now();
    const release = await lockDataDir(dir, { staleAfterMs: 1500, pollMs: 50 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    release();

    // its holder touches it while we look: alive, refused without waiting the full period
    writeFileSync(lockFile(dir), JSON.stringify(foreign));
    const heartbeat = setInterval(() => utimesSync(lockFile(dir), new Date(), new Date()), 100);
    try {
      const refusedAt = Date.now();
      await expect(lockDataDir(dir, { staleAfterMs: 5000, pollMs: 50 })).rejects.toThrow(/in use by process 1 of another PID namespace/);
      expect(Date.now() - refusedAt).toBeLessThan(2000);
    } finally {
      clearInterval(heartbeat);
    }
  });

  test('a lock of an earlier boot is stale whatever its pid', async () => {
    const dir = dataDir();
    writeFileSync(lockFile(dir), JSON.stringify({ pid: process.ppid, startTime: processStartTime(process.ppid), bootId: 'another-boot', pidNamespace: us().pidNamespace }));
    (await lockDataDir(dir))();
  });
});

describe('DATA_DIR lock, with real processes', () => {
  test('a live holder is refused with a clear error; once it is SIGKILLed, the lock is taken over', async () => {
    const dir = dataDir();
    const holder = await lockingChild(dir);
    await expect(lockDataDir(dir)).rejects.toThrow(`the embedded database in ${dir} is in use by process ${holder.pid}; stop that server`);
    holder.kill('SIGKILL');
    await exited(holder);
    (await lockDataDir(dir))();
  });

  test('a second lock in the same process is refused; after the release it can be taken again', async () => {
    const dir = dataDir();
    const release = await lockDataDir(dir);
    await expect(lockDataDir(dir)).rejects.toThrow(/already open in this process/);
    release();
    (await lockDataDir(dir))();
  });
});

let unshareWorks = false;
try {
  execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
  unshareWorks = true;
} catch {
  // no permission for new namespaces here
}
const inNamespaces = unshareWorks || process.env.CI === 'true' ? describe : describe.skip;
if (!unshareWorks) console.warn('SKIPPED the fresh-PID-namespace lock tests: unshare --pid is not permitted here');

inNamespaces('tessera serve in a fresh PID namespace each time (a container restart)', () => {
  test('SIGKILLed as pid 1, restarted as pid 1 again: it starts; a second one while it runs is refused', async () => {
    const dir = dataDir();
    const port = await freePort();
    const env = {
      PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}`,
      DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), LOG_LEVEL: 'info',
    };
    const launcher = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child=SIGTERM'];
    const start = () => {
      const proc = spawnTessera(['serve'], env, port, { launcher });
      running.push(proc);
      return proc;
    };

    let proc = start();
    await waitForOk(`${proc.url}/.well-known/openid-configuration`, proc, 60_000);
    expect(JSON.parse(readFileSync(join(dir, 'data', 'tessera.lock'), 'utf8')).pid).toBe(1);
    await proc.crash();
    expect(JSON.parse(readFileSync(join(dir, 'data', 'tessera.lock'), 'utf8')).pid).toBe(1); // stale, and it names pid 1

    proc = start();
    await waitForOk(`${proc.url}/.well-known/openid-configuration`, proc, 60_000);

    // another container on the same DATA_DIR while this one runs: refused, with the reason
    const second = spawnTessera(['serve'], { ...env, PORT: String(await freePort()) }, port, { launcher });
    running.push(second);
    expect(await second.exited).not.toBe(0);
    expect(second.output()).toMatch(/the embedded database in .* is in use by process 1 of another PID namespace/);
    expect((await fetch(`${proc.url}/.well-known/openid-configuration`)).status).toBe(200);
    // graceful stop: SIGTERM to the server itself (unshare ignores it)
    process.kill(serverPid(proc.child.pid!), 'SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(existsSync(join(dir, 'data', 'tessera.lock'))).toBe(false);
  }, 120_000);
});
