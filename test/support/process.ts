import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The checkout's root (where `npm start` runs). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The pinned Node 24 runtime (the system node may be older). */
export const NODE_BIN = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url));

/**
 * A port free now, below the kernel's ephemeral range (32768–60999 here): a
 * port from that range (what listen(0) gives) can be taken, between a server's
 * stop and its restart on the same port, as the local end of any outgoing
 * connection (Postgres, Redis, fetch), and the restart fails with EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await canListen(port)) return port;
  }
  throw new Error('no free port found between 20000 and 32000');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/*
 * The server runs under a tiny sh watchdog: when the watchdog's stdin reaches
 * end of file (stop() closes the pipe, or the test process dies in any way and
 * the kernel closes it) it sends SIGTERM to the server. A process.on('exit')
 * hook would not do: inside a jest sandbox it never fires, and nothing runs on
 * SIGKILL. The reader gets the pipe as fd 3 because an asynchronous list of a
 * non-interactive sh reads /dev/null otherwise. SIGKILL follows after 15 s.
 */
const WATCHDOG = [
  'exec 3<&0',
  '"$@" </dev/null & pid=$!',
  '( read -r _ <&3; kill -TERM $pid 2>/dev/null; sleep 15; kill -KILL $pid 2>/dev/null ) >/dev/null 2>&1 & watcher=$!',
  'wait $pid; status=$?',
  'kill $watcher 2>/dev/null',
  'exit $status',
].join('\n');

/*
 * The same for a command line that starts a tree of processes (`npm start`:
 * sh, npm, sh, node; the shells do not pass signals on): the command gets a
 * process group of its own (setsid) and the whole group gets the signal, as
 * Ctrl-C in a terminal does. The watchdog exits when no process of the group
 * is left, with the command's status.
 */
const GROUP_WATCHDOG = [
  'exec 3<&0',
  'setsid "$@" </dev/null & pid=$!',
  '( read -r _ <&3; kill -TERM -$pid 2>/dev/null; sleep 15; kill -KILL -$pid 2>/dev/null ) >/dev/null 2>&1 & watcher=$!',
  'wait $pid; status=$?',
  'while kill -0 -$pid 2>/dev/null; do sleep 0.1; done',
  'kill $watcher 2>/dev/null',
  'exit $status',
].join('\n');

export interface TesseraProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** stdout + stderr so far */
  output(): string;
  /** resolves with the exit code (or signal name) */
  readonly exited: Promise<number | string>;
  /** SIGTERM (graceful shutdown) and wait for the exit */
  stop(): Promise<number | string>;
  /** SIGKILL the server itself (a crash, a power cut for the process) and wait for the exit */
  crash(): Promise<number | string>;
}

/** The pid of the server under the watchdog (the descendant whose command line runs src/main.ts, past a launcher). */
export function serverPid(watchdogPid: number): number {
  const children = (pid: string) => {
    try {
      return execFileSync('pgrep', ['-P', pid], { encoding: 'utf8' }).split('\n').filter(Boolean);
    } catch {
      return []; // pgrep exits 1 when there is none
    }
  };
  for (let queue = children(String(watchdogPid)); queue.length;) {
    const pid = queue.shift()!;
    // the node process itself (not the watchdog's shells nor a launcher, whose arguments name src/main.ts too)
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (/(^|\/)node$/.test(argv[0]) && argv.includes('src/main.ts')) return Number(pid);
    queue.push(...children(pid));
  }
  throw new Error(`no server process under ${watchdogPid}`);
}

/**
 * `node src/main.ts <args>` from the checkout, with `env` on top of a clean
 * environment; `launcher` runs it (e.g. unshare, for a fresh PID namespace).
 */
export function spawnTessera(args: string[], env: Record<string, string>, port: number, options: { launcher?: string[] } = {}): TesseraProcess {
  return spawnWatched([...(options.launcher ?? []), NODE_BIN, 'src/main.ts', ...args], env, port);
}

/**
 * A command line as a person types it in the checkout (`npm start`), in a
 * process group of its own that stop() ends as a whole (GROUP_WATCHDOG).
 * Its exit status is the shell's: 143 after stop().
 */
export function spawnCommandLine(commandLine: string, env: Record<string, string>, port: number): TesseraProcess {
  return spawnWatched(['sh', '-c', commandLine], env, port, GROUP_WATCHDOG);
}

/** The environment of a fresh clone: no Postgres, no Redis, no config file unless the test asks for them. */
export function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const key of ['DATABASE_URL', 'REDIS_URL', 'CONFIG_FILE', 'ISSUER', 'TESSERA_ADMIN_CLIENT_ID', 'TESSERA_ADMIN_CLIENT_SECRET', 'NODE_OPTIONS']) delete base[key];
  // no drain delay on SIGTERM unless a test asks for one (test/integration/shutdown.test.ts): no load balancer is watching /readyz here
  return { SHUTDOWN_DRAIN_DELAY_MS: '0', ...base, ...env };
}

function spawnWatched(argv: string[], env: Record<string, string>, port: number, watchdog = WATCHDOG): TesseraProcess {
  const child = spawn('sh', ['-c', watchdog, 'tessera-watchdog', ...argv], {
    cwd: REPO_ROOT,
    env: cleanEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      child.stdin?.end();
      resolve(code ?? signal ?? -1);
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    exited,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.stdin!.end();
      return exited;
    },
    crash() {
      process.kill(serverPid(child.pid!), 'SIGKILL');
      return exited;
    },
  };
}

/** Polls `url` until it answers 200; returns the milliseconds it took. Fails early when the process exits. */
export async function waitForOk(url: string, proc: TesseraProcess, timeoutMs: number): Promise<number> {
  const started = Date.now();
  let exited = false;
  void proc.exited.then(() => { exited = true; });
  while (Date.now() - started < timeoutMs) {
    if (exited) throw new Error(`the server exited before answering ${url}:\n${proc.output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return Date.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${proc.output()}`);
}
