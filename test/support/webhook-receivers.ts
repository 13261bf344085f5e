// Webhook receivers for tests: the README's own receiver, run as written in a
// child process, and small in-process ones that record or stall.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_BIN, REPO_ROOT } from './process.ts';

/** The ```js block after `<!-- webhook-receiver -->` in README.md, never retyped here. */
export function readmeReceiverCode(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- webhook-receiver -->');
  if (at === -1) throw new Error('README.md has no <!-- webhook-receiver --> marker');
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block) throw new Error('no js block after <!-- webhook-receiver -->');
  return block[1];
}

/** Polls until `check` returns something truthy; throws with `what` after `timeoutMs` (a bound, not an assertion on speed). */
export async function eventually<T>(check: () => Promise<T> | T, what: string, timeoutMs = 20_000): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface ReadmeReceiver {
  readonly url: string;
  /** what it printed: "verified <event id> <type>" lines */
  output(): string;
  verified(): Array<{ eventId: string; type: string }>;
  stop(): Promise<void>;
}

/** Starts the README's receiver on `port` with `secret`; resolves once it answers. */
export async function startReadmeReceiver(port: number, secret: string): Promise<ReadmeReceiver> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-receiver-'));
  const file = join(dir, 'receiver.mjs');
  writeFileSync(file, readmeReceiverCode());
  const child: ChildProcess = spawn(NODE_BIN, [file], { env: { PATH: process.env.PATH ?? '', PORT: String(port), WEBHOOK_SECRET: secret }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => { output += chunk; });
  child.stderr!.on('data', (chunk) => { output += chunk; });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // an unsigned request is refused: any answer means it listens
    await eventually(async () => (await fetch(url, { method: 'POST', body: '{}' })).status === 400, 'the README receiver to listen', 10_000);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}; its output: ${output}`);
  }
  return {
    url,
    output: () => output,
    verified: () => [...output.matchAll(/^verified (\S+) (\S+)$/gm)].map((m) => ({ eventId: m[1], type: m[2] })),
    stop,
  };
}

export interface Captured { headers: IncomingMessage['headers']; body: string; path: string }

export interface CaptureReceiver {
  readonly url: string;
  readonly received: Captured[];
  /** how many requests have arrived (also those never answered) */
  readonly arrivals: number;
  /** what the next requests are answered (status; 0: never answer) */
  answer(status: number, headers?: Record<string, string>): void;
  stop(): Promise<void>;
}

/** An in-process receiver that records every request; it answers 204, another status, or never. */
export async function startCaptureReceiver(port = 0): Promise<CaptureReceiver> {
  let status = 204;
  let extraHeaders: Record<string, string> = {};
  let arrivals = 0;
  const received: Captured[] = [];
  const stalled: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    arrivals++;
    let body = '';
    req.setEncoding('utf8').on('data', (chunk) => { body += chunk; }).on('end', () => {
      received.push({ headers: req.headers, body, path: req.url ?? '' });
      if (status === 0) { stalled.push(res); return; }
      res.writeHead(status, extraHeaders).end('a body Tessera must not store');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${bound}`,
    received,
    get arrivals() { return arrivals; },
    answer(next, headers = {}) { status = next; extraHeaders = headers; },
    async stop() {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
