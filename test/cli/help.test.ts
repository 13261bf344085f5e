import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The CLI's first impressions: help for every command and subcommand, the
// version, and mistakes answered with the command's usage and a suggestion,
// never with node:util's parser messages (whose advice, to put a mistyped flag
// after `--`, is wrong for every mistyped flag). No server is needed: all of
// this is answered before the CLI calls one.
const NODE = join(process.cwd(), 'node_modules/.bin/node');
const MAIN = join(process.cwd(), 'src/main.ts');
const VERSION = (JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version: string }).version;
const RAW_PARSER = /ERR_PARSE_ARGS|To specify a positional argument|Unknown option '|argument is ambiguous|argument missing|does not take an argument|\n\s+at .+:\d+:\d+/;

interface Run { code: number | null; stdout: string; stderr: string }

// the tests that start one process per command grow with the commands (two at a time, each a Node start)
const PER_COMMAND_TIMEOUT = 300_000;

let scratch: string;
beforeAll(() => { scratch = mkdtempSync(join(tmpdir(), 'tessera-help-')); });
afterAll(() => { rmSync(scratch, { recursive: true, force: true }); });

function tessera(args: string[], env: Record<string, string> = {}): Promise<Run> {
  // an issuer nobody listens on and empty directories: nothing here may reach a server or change a file
  const base = { PATH: process.env.PATH ?? '', ISSUER: 'http://127.0.0.1:9', KEYS_DIR: join(scratch, 'keys'), DATA_DIR: join(scratch, 'data'), LOG_LEVEL: 'silent' };
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [MAIN, ...args], { env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

/** Runs the command lines two at a time (the machine has two cores). */
async function all(lines: string[][]): Promise<Run[]> {
  const runs: Run[] = [];
  for (let i = 0; i < lines.length; i += 2) runs.push(...await Promise.all(lines.slice(i, i + 2).map((args) => tessera(args))));
  return runs;
}

/** Every command and subcommand the top-level help lists: ["serve"], ["users", "create"], ... */
function commandLines(help: string): string[][] {
  const found: string[][] = [];
  for (const line of help.split('\n')) {
    const entry = /^ {2}([a-z][a-z-]*)(?: ([a-z][a-z-]*))?(?:\s|$)/.exec(line);
    if (!entry) continue;
    const words = entry[2] ? [entry[1], entry[2]] : [entry[1]];
    if (!found.some((f) => f.join(' ') === words.join(' '))) found.push(words);
  }
  return found;
}

describe('tessera help, version and usage errors', () => {
  let help: string;
  let commands: string[][];
  let groups: string[];
  beforeAll(async () => {
    const run = await tessera(['--help']);
    expect(run.code).toBe(0);
    help = run.stdout;
    commands = commandLines(help);
    groups = [...new Set(commands.map((c) => c[0]))];
  });

  test('the top-level help lists the server commands and every admin group', () => {
    expect(groups).toEqual(expect.arrayContaining(['serve', 'migrate', 'users', 'clients', 'resources', 'grants', 'tokens', 'keys', 'audit']));
    expect(commands).toEqual(expect.arrayContaining([['users', 'create'], ['users', 'import'], ['clients', 'delete'], ['keys', 'rotate'], ['audit', 'list']]));
    expect(help).toMatch(/--version, -V/);
  });

  test('the Commands table (docs/operations.md, linked from the README) names every command and subcommand of the help', () => {
    const operations = readFileSync(join(process.cwd(), 'docs/operations.md'), 'utf8');
    const start = operations.indexOf('## Commands');
    expect(start).toBeGreaterThanOrEqual(0);
    const end = operations.indexOf('\n## ', start + 1);
    const table = operations.slice(start, end === -1 ? undefined : end);
    for (const words of commands) expect({ words, listed: table.includes(`\`tessera ${words.join(' ')}`) }).toEqual({ words, listed: true });
  });

  test('the version printed is released in CHANGELOG.md, and package.json names the LICENSE', () => {
    const changelog = readFileSync(join(process.cwd(), 'CHANGELOG.md'), 'utf8');
    expect(changelog).toMatch(new RegExp(`^## \\[?${VERSION.replaceAll('.', '\\.')}\\]? - \\d{4}-\\d{2}-\\d{2}$`, 'm'));
    const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { license?: string };
    expect(pkg.license).toBe('Apache-2.0');
    expect(readFileSync(join(process.cwd(), 'LICENSE'), 'utf8')).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
  });

  test('-h and `help` print it too; no command prints it with exit code 2', async () => {
    const [short, word, none] = await all([['-h'], ['help'], []]);
    expect(short).toMatchObject({ code: 0, stdout: help });
    expect(word).toMatchObject({ code: 0, stdout: help });
    expect(none.code).toBe(2);
    expect(none.stdout).toBe(help);
  });

  test('--version and -V print the version of package.json', async () => {
    for (const run of await all([['--version'], ['-V']])) {
      expect(run).toEqual({ code: 0, stdout: `tessera ${VERSION}\n`, stderr: '' });
    }
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('`tessera <command> --help`: that command\'s usage, every entry of it, exit 0', async () => {
    const runs = await all(groups.map((group) => [group, '--help']));
    groups.forEach((group, i) => {
      const run = runs[i];
      expect({ group, code: run.code, stderr: run.stderr }).toEqual({ group, code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^usage:\n/);
      const entries = run.stdout.split('\n').filter((line) => /^ {2}\S/.test(line));
      expect(entries.length).toBeGreaterThan(0);
      for (const entry of entries) expect(entry).toMatch(new RegExp(`^  ${group}(\\s|$)`));
      // every subcommand the top-level help lists is in the group's help
      for (const [, sub] of commands.filter((c) => c[0] === group && c[1])) expect(run.stdout).toMatch(new RegExp(`^  ${group} ${sub}\\b`, 'm'));
    });
  });

  test('`tessera <command> <subcommand> --help` and `-h`: only that subcommand\'s usage, exit 0', async () => {
    const subcommands = commands.filter((c) => c.length === 2);
    const runs = await all(subcommands.flatMap((words) => [[...words, '--help'], [...words, '-h']]));
    subcommands.forEach((words, i) => {
      for (const run of [runs[2 * i], runs[2 * i + 1]]) {
        expect({ words, code: run.code, stderr: run.stderr }).toEqual({ words, code: 0, stderr: '' });
        const entries = run.stdout.split('\n').filter((line) => /^ {2}\S/.test(line));
        expect(entries.length).toBeGreaterThan(0);
        for (const entry of entries) expect(entry).toMatch(new RegExp(`^  ${words.join(' ')}(\\s|$)`));
      }
    });
    expect((await tessera(['help', 'users', 'create'])).stdout).toBe(runs[subcommands.findIndex((w) => w.join(' ') === 'users create') * 2].stdout);
  }, PER_COMMAND_TIMEOUT);

  test('help is answered without reading the configuration (it works where the configuration is wrong)', async () => {
    const broken = { PORT: 'eighty' };
    expect(await tessera(['users', 'list'], broken)).toMatchObject({ code: 1, stderr: expect.stringMatching(/port/i) });
    expect(await tessera(['users', '--help'], broken)).toMatchObject({ code: 0, stderr: '' });
    expect(await tessera(['--version'], broken)).toMatchObject({ code: 0, stderr: '' });
  });

  test('an unknown flag on any command: exit 2, our message and that command\'s usage, no parser text', async () => {
    const runs = await all(commands.map((words) => [...words, '--no-such-flag']));
    commands.forEach((words, i) => {
      const run = runs[i];
      expect({ words, code: run.code, stdout: run.stdout }).toEqual({ words, code: 2, stdout: '' });
      expect(run.stderr).toMatch(new RegExp(`^tessera: unknown option --no-such-flag\\n\\nusage:\\n  ${words.join(' ')}(\\s|$)`));
      expect(run.stderr).not.toMatch(RAW_PARSER);
    });
  }, PER_COMMAND_TIMEOUT);

  test.each([
    [['users', 'create', '--nme', 'x'], 'unknown option --nme; did you mean --name?'],
    [['users', 'create', '--password', 'in clear'], 'unknown option --password; did you mean --password-stdin?'],
    [['clients', 'create', '--pubic'], 'unknown option --pubic; did you mean --public?'],
    [['clients', 'create', '--grant-type', 'client_credentials'], 'unknown option --grant-type; did you mean --grant-types?'],
    [['keys', 'rotate', '--activte'], 'unknown option --activte; did you mean --activate?'],
    [['grants', 'list', '--usr', 'u'], 'unknown option --usr; did you mean --user?'],
    [['audit', 'list', '--sinse', '2020-01-01'], 'unknown option --sinse; did you mean --since?'],
    [['users', 'list', '--jsno'], 'unknown option --jsno; did you mean --json?'],
    [['users', 'list', '-limit', '5'], 'unknown option -limit; did you mean --limit?'],
    [['users', 'list', '--zzzzzz'], 'unknown option --zzzzzz'],
    [['clients', 'show', '-TzrZ2IxtwiHTr19cHqZlg'], 'unknown option -TzrZ2IxtwiHTr19cHqZlg; an argument that begins with "-" goes after --: ... -- -TzrZ2IxtwiHTr19cHqZlg'],
    [['users', 'create', '--username'], '--username needs a value'],
    [['users', 'create', '--username', '--password-stdin'], '--username needs a value, not the option "--password-stdin" (for a value that starts with "-", write --username=--password-stdin)'],
    [['clients', 'create', '--public=yes'], '--public takes no value'],
    [['users', 'lst'], 'unknown command "users lst"; did you mean "users list"?'],
    [['clients', 'shwo', 'x'], 'unknown command "clients shwo"; did you mean "clients show"?'],
    [['users'], '"users" needs a subcommand: create, update, disable, enable, delete, set-password, reset-mfa, import, list, show'],
    [['usrs', 'list'], 'unknown command "usrs"; did you mean users?'],
    [['--verison'], 'unknown option --verison; did you mean --version?'],
    [['serve', 'now'], 'unexpected argument "now"'],
  ])('tessera %j → "%s"', async (args, message) => {
    const run = await tessera(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')[0]).toBe(`tessera: ${message}`);
    expect(run.stderr).toMatch(/\n\nusage/);
    expect(run.stderr).not.toMatch(RAW_PARSER);
  });
});
