import { spawn, type ChildProcess } from 'node:child_process';
import { NODE_BIN, REPO_ROOT, waitForOk, type TesseraProcess } from './process.ts';

export interface ExampleApi {
  readonly process: ChildProcess;
  /** what it printed so far (read to explain a failed start) */
  output(): string;
  stop(): void;
}

/**
 * examples/protected-api as a user runs it (`node server.mjs` with its
 * environment), on 127.0.0.1:`port`, its resource identifier `resource`;
 * resolves once it serves its RFC 9728 metadata (at the path of `resource`).
 * `env` adds to or overrides its settings (TOKEN_CHECK=introspection, …).
 */
export async function startExampleApi(options: {
  port: number; issuer: string; resource: string; requiredScopes: string; env?: Record<string, string>; startupMs: number;
}): Promise<ExampleApi> {
  let output = '';
  const child = spawn(NODE_BIN, ['examples/protected-api/server.mjs'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH, PORT: String(options.port), HOST: '127.0.0.1', ISSUER: options.issuer, RESOURCE: options.resource,
      REQUIRED_SCOPES: options.requiredScopes, ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // read all the time: a full pipe would stall it
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const metadataPath = `/.well-known/oauth-protected-resource${new URL(options.resource).pathname.replace(/\/$/, '')}`;
  await waitForOk(`http://127.0.0.1:${options.port}${metadataPath}`, {
    exited: new Promise((resolve) => child.once('exit', resolve)), output: () => output,
  } as unknown as TesseraProcess, options.startupMs);
  return { process: child, output: () => output, stop: () => { child.kill('SIGTERM'); } };
}
