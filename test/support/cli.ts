// The real CLI in a child process, as an operator runs it.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { NODE_BIN, REPO_ROOT } from './process.ts';

/** Exit code, output, and stdout parsed as JSON when it is JSON (`--json`). */
export interface CliRun { code: number | null; stdout: string; stderr: string; json: any }

export function runTesseraCli(args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE_BIN, [join(REPO_ROOT, 'src/main.ts'), ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code) => {
      let json: unknown;
      try { json = JSON.parse(stdout); } catch { /* human output */ }
      resolve({ code, stdout, stderr, json });
    });
    child.stdin.end(stdin);
  });
}

/** What the admin commands need to reach a test server: its issuer and its KEYS_DIR (the admin credentials); no log lines. */
export function adminCliEnv(server: { issuer: string; config: { keysDir: string } }, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, ISSUER: server.issuer, KEYS_DIR: server.config.keysDir, LOG_LEVEL: 'silent', ...extra };
}
