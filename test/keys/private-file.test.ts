/*
 * Issue 9, finding 7: every private file under KEYS_DIR is written through a
 * temp file (mode 0600 from its creation) and a rename, so that a crash at
 * any moment leaves the old file or the new one, whole, and never shows the
 * content to anyone but the owner.
 */
import { afterAll, describe, test, expect } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateKeys } from '../../src/keys/index.ts';
import { writePrivateFile } from '../../src/keys/private-file.ts';
import { NODE_BIN, REPO_ROOT } from '../support/process.ts';

const PRIVATE_FILE_MODULE = join(REPO_ROOT, 'src/keys/private-file.ts');
const modeOf = (path: string) => statSync(path).mode & 0o777;
const tempFiles = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.tmp'));

/** Runs an ES module in a child Node (as the CLI or the server would write); resolves with its exit signal or code. */
function runChild(source: string, options: { killAfterMs?: number } = {}): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE_BIN, ['--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let ready = false;
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.stdout.on('data', () => {
      // the child says when its loop runs; the kill comes some time into it
      if (ready || options.killAfterMs === undefined) return;
      ready = true;
      setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('private files under KEYS_DIR', () => {
  const scratch: string[] = [];
  const scratchDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-atomic-'));
    scratch.push(dir);
    return dir;
  };
  afterAll(() => { for (const dir of scratch) rmSync(dir, { recursive: true, force: true }); });

  test('a crash after the new content is written but before the rename leaves the old file intact', async () => {
    const dir = join(scratchDir(), 'keys');
    const before = await loadOrCreateKeys(dir);
    const path = join(dir, 'signing-keys.json');
    const original = readFileSync(path, 'utf8');

    // a real crash at the worst moment: SIGKILL from inside the write, just before the rename
    const crashed = await runChild(`
      import { writePrivateFile } from ${JSON.stringify(PRIVATE_FILE_MODULE)};
      writePrivateFile(${JSON.stringify(path)}, '{"keys": []}', { beforeRename: () => process.kill(process.pid, 'SIGKILL') });
    `);
    expect(crashed.signal).toBe('SIGKILL');

    expect(readFileSync(path, 'utf8')).toBe(original);
    const [temp] = tempFiles(dir);
    expect(readFileSync(join(dir, temp), 'utf8')).toBe('{"keys": []}'); // the temp file, never renamed
    expect(modeOf(join(dir, temp))).toBe(0o600);
    expect((await loadOrCreateKeys(dir)).signingKeys).toEqual(before.signingKeys);
  });

  test('the file is 0600 from its first byte, and the old file is untouched until the rename, even when it was readable by others', () => {
    const dir = scratchDir();
    const path = join(dir, 'admin-client.json');
    writeFileSync(path, 'old');
    chmodSync(path, 0o644);
    const seen: string[] = [];
    writePrivateFile(path, 'secret', {
      afterOpen(temp) {
        seen.push(`open: ${statSync(temp).size} bytes, mode ${modeOf(temp).toString(8)}`);
      },
      beforeRename(temp) {
        seen.push(`written: ${readFileSync(temp, 'utf8')}, mode ${modeOf(temp).toString(8)}; target: ${readFileSync(path, 'utf8')}`);
      },
    });
    expect(seen).toEqual(['open: 0 bytes, mode 600', 'written: secret, mode 600; target: old']);
    expect(readFileSync(path, 'utf8')).toBe('secret');
    expect(modeOf(path)).toBe(0o600);
    expect(tempFiles(dir)).toEqual([]);
  });

  test('killed at a random moment while rewriting a large file again and again, the file is always one whole version', async () => {
    const dir = scratchDir();
    const path = join(dir, 'signing-keys.json');
    const version = (n: number) => JSON.stringify({ version: n, padding: 'x'.repeat(8 * 1024 * 1024) });
    writePrivateFile(path, version(0));
    for (const killAfterMs of [150, 400, 700]) {
      const run = await runChild(`
        import { writePrivateFile } from ${JSON.stringify(PRIVATE_FILE_MODULE)};
        const version = ${version.toString()};
        const contents = [version(1), version(2)];
        process.stdout.write('writing\\n');
        for (let i = 0; ; i++) writePrivateFile(${JSON.stringify(path)}, contents[i % 2]);
      `, { killAfterMs });
      expect(run.signal).toBe('SIGKILL');
      const content = readFileSync(path, 'utf8');
      expect([0, 1, 2].map(version).indexOf(content)).not.toBe(-1); // not a truncated or mixed file
      expect(modeOf(path)).toBe(0o600);
    }
  }, 30_000);
});
