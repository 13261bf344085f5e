import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const HOST = '127.0.0.1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type RunningCluster = {
  nodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
  down(): Promise<void>;
  up(): Promise<void>;
};

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** A port that is free and whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if (taken.has(port) || taken.has(port + 10000) || taken.has(port - 10000)) continue;
    if (await portIsFree(port) && await portIsFree(port + 10000)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port pair for a Redis cluster node');
}

/**
 * TLS for test servers: PEM files of a CA and of the certificate the servers
 * present (and present to each other); `servername` is the name it holds.
 */
export interface RedisTlsFiles { ca: string; cert: string; key: string; servername: string }

/** redis-server arguments: listen with TLS only (port 0 closes the clear-text port). */
function serverTlsArgs(port: number, tls: RedisTlsFiles, clientCertificates: 'yes' | 'no'): string[] {
  return [
    '--port', '0', '--tls-port', String(port),
    '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca,
    '--tls-auth-clients', clientCertificates,
  ];
}

const cliTlsArgs = (tls?: RedisTlsFiles) =>
  (tls ? ['--tls', '--cacert', tls.ca, '--cert', tls.cert, '--key', tls.key, '--sni', tls.servername] : []);

const cliWith = (tls?: RedisTlsFiles) => (port: number, ...args: string[]) =>
  run('redis-cli', ['-h', HOST, '-p', String(port), ...cliTlsArgs(tls), ...args], { timeout: 20000 });

const cli = cliWith();

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/*
 * Each redis-server runs under a tiny sh watchdog that kills it as soon as its
 * stdin reaches end of file, i.e. when stop() closes the pipe or when the test
 * process dies in any way (crash, timeout, SIGKILL): the kernel closes the
 * pipe then. The watchdog also removes the temp dir. A process.on('exit') hook would not do: inside a jest sandbox
 * `process` is a copy whose exit event never fires, and nothing runs on SIGKILL.
 * (A background job of a non-interactive sh reads /dev/null, not the pipe.)
 */
const WATCHDOG = 'redis-server "$@" & pid=$!; read -r _; kill -9 $pid 2>/dev/null; wait $pid; rm -rf "$CLUSTER_DIR"';

function startNode(dir: string, args: string[]): ChildProcess {
  return spawn('sh', ['-c', WATCHDOG, 'redis-watchdog', ...args], {
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { ...process.env, CLUSTER_DIR: dir },
  });
}

function stopNode(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(force); resolve(); });
    child.stdin?.end();
  });
}

/**
 * Three cluster-enabled masters (no replicas, no persistence) on free loopback
 * ports in a temp dir. Call stop() in afterAll; the watchdogs kill whatever is
 * left if the test process ends without it. down() / up() take every master
 * away and bring it back on the same port (for outage tests; data is lost, the
 * cluster layout survives in nodes-<port>.conf). With tls, the nodes speak
 * only TLS, to clients and to each other, and ask no client certificate.
 */
export async function startRedisCluster(options: { tls?: RedisTlsFiles } = {}): Promise<RunningCluster> {
  const { tls } = options;
  const cli = cliWith(tls);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-cluster-'));
  const children: ChildProcess[] = [];
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) ports.push(await freeClusterPort(taken));

  const startNodes = async () => {
    for (const port of ports) {
      children.push(startNode(dir, [
        '--bind', HOST,
        ...(tls ? [...serverTlsArgs(port, tls, 'no'), '--tls-cluster', 'yes'] : ['--port', String(port)]),
        '--cluster-enabled', 'yes',
        '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', '2000',
        '--dir', dir,
        '--save', '',
        '--appendonly', 'no',
        '--logfile', join(dir, `redis-${port}.log`),
      ]));
    }
    for (const port of ports) {
      await waitFor(`redis-server on ${port}`, async () => (await cli(port, 'ping')).stdout.trim() === 'PONG');
    }
  };
  const clusterOk = async () => {
    for (const port of ports) {
      await waitFor(`cluster_state:ok on ${port}`, async () =>
        (await cli(port, 'cluster', 'info')).stdout.includes('cluster_state:ok'));
    }
  };
  const stop = async () => {
    await Promise.all(children.map(stopNode));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await startNodes();
    await run('redis-cli', [
      ...cliTlsArgs(tls),
      '--cluster', 'create', ...ports.map((port) => `${HOST}:${port}`),
      '--cluster-replicas', '0', '--cluster-yes',
    ], { timeout: 30000 });
    await clusterOk();
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    nodes: ports.map((port) => ({ host: HOST, port })),
    stop,
    // SHUTDOWN leaves each watchdog waiting on its pipe; stop() ends them all.
    async down() {
      await Promise.all(ports.map((port) => cli(port, 'shutdown', 'nosave').catch(() => undefined)));
      for (const port of ports) {
        await waitFor(`redis-server on ${port} to go`, () => portIsFree(port));
      }
    },
    async up() {
      await startNodes();
      await clusterOk();
    },
  };
}

/**
 * One plain redis-server (no persistence) for tests that stop and restart
 * Redis; pass the port of a stopped one to bring it back on the same address.
 */
export async function startRedisServer(port?: number): Promise<{ port: number; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-'));
  const chosen = port ?? await freeClusterPort(new Set());
  const child = startNode(dir, [
    '--bind', HOST, '--port', String(chosen), '--dir', dir, '--save', '', '--appendonly', 'no',
    '--logfile', join(dir, 'redis.log'),
  ]);
  const stop = async () => {
    await stopNode(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`redis-server on ${chosen}`, async () => (await cli(chosen, 'ping')).stdout.trim() === 'PONG');
  } catch (error) {
    await stop();
    throw error;
  }
  return { port: chosen, stop };
}

/**
 * A master and one sentinel monitoring it (as "mymaster"), both speaking only
 * TLS and both asking clients for a certificate (Redis's default): the
 * sentinel itself connects to the master with TLS and the same certificate.
 */
export async function startRedisSentinel(tls: RedisTlsFiles): Promise<{ sentinels: Array<{ host: string; port: number }>; name: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-sentinel-'));
  const cli = cliWith(tls);
  const taken = new Set<number>();
  const masterPort = await freeClusterPort(taken);
  const sentinelPort = await freeClusterPort(taken);
  const children = [startNode(dir, [
    '--bind', HOST, ...serverTlsArgs(masterPort, tls, 'yes'), '--dir', dir, '--save', '', '--appendonly', 'no',
    '--logfile', join(dir, 'master.log'),
  ])];
  const stop = async () => {
    await Promise.all(children.map(stopNode));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`redis-server on ${masterPort}`, async () => (await cli(masterPort, 'ping')).stdout.trim() === 'PONG');
    // a sentinel rewrites its configuration file, so it gets one of its own
    const config = join(dir, 'sentinel.conf');
    writeFileSync(config, [
      `bind ${HOST}`,
      'port 0',
      `tls-port ${sentinelPort}`,
      `tls-cert-file ${tls.cert}`,
      `tls-key-file ${tls.key}`,
      `tls-ca-cert-file ${tls.ca}`,
      'tls-auth-clients yes',
      'tls-replication yes',
      `dir ${dir}`,
      `logfile ${join(dir, 'sentinel.log')}`,
      `sentinel monitor mymaster ${HOST} ${masterPort} 1`,
    ].join('\n'));
    children.push(startNode(dir, [config, '--sentinel']));
    await waitFor('the sentinel to know its master', async () =>
      (await cli(sentinelPort, 'sentinel', 'get-master-addr-by-name', 'mymaster')).stdout.includes(String(masterPort)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { sentinels: [{ host: HOST, port: sentinelPort }], name: 'mymaster', stop };
}

/** Whether redis-server and redis-cli can be run here (to start test servers). */
export async function redisBinariesInstalled(): Promise<boolean> {
  try {
    await run('redis-server', ['--version']);
    await run('redis-cli', ['--version']);
    return true;
  } catch {
    return false;
  }
}
