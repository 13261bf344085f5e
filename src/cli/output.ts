import type { AdminApi } from './admin-client.ts';
import type { TtlConfig } from '../config/index.ts';
import { none, parse, wholeNumber } from './args.ts';

/** What every admin command gets: the API, the output mode, and where to write. */
export interface CommandContext {
  api: AdminApi;
  /** where the key files are (for `keys rotate` and `keys retire`, which work on them directly) */
  keysDir: string;
  /** token lifetimes: a key that stopped signing stays accepted for the longest (`keys rotate --activate`) */
  ttl: TtlConfig;
  json: boolean;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/**
 * --json: the API's answer as it is, on one line (scripts often read the last
 * line of output, or one JSON document per line); otherwise the human lines.
 */
export function emit(cli: CommandContext, data: unknown, human: () => string[]): void {
  if (cli.json) cli.stdout.write(`${JSON.stringify(data)}\n`);
  else for (const line of human()) cli.stdout.write(`${line}\n`);
}

/** Left-aligned columns, for lists. */
export function table(rows: string[][]): string[] {
  if (!rows.length) return [];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ').trimEnd());
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a line from a terminal without echoing it. */
function promptHidden(cli: CommandContext, prompt: string): Promise<string> {
  const { stdin } = cli;
  cli.stderr.write(prompt);
  stdin.setRawMode?.(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      cli.stderr.write('\n');
      if (error) reject(error); else resolve(typed);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new Error('cancelled'));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * The password comes from stdin, never from argv (argv is visible to every
 * user of the machine in the process list). Piped: everything up to the end,
 * less one trailing newline. A terminal: a prompt without echo.
 */
export async function readPassword(cli: CommandContext): Promise<string> {
  const password = cli.stdin.isTTY ? await promptHidden(cli, 'Password: ') : (await readAll(cli.stdin)).replace(/\r?\n$/, '');
  if (!password) throw new Error('no password on stdin');
  return password;
}

export { readAll };

/**
 * `<group> list [--limit N] [--offset N]`: one page of an admin collection,
 * printed as JSON or as a table of `columns` (header → cell of an item).
 */
export async function listCommand<T>(cli: CommandContext, args: string[], path: string, columns: Record<string, (item: T) => string>): Promise<number> {
  const { values, positionals } = parse(args, { limit: { type: 'string' }, offset: { type: 'string' } });
  none(positionals);
  const page = await cli.api.get<{ items: T[] }>(path, { limit: wholeNumber(values.limit, '--limit'), offset: wholeNumber(values.offset, '--offset') });
  const cells = Object.values(columns);
  emit(cli, page, () => table([Object.keys(columns), ...page.items.map((item) => cells.map((cell) => cell(item)))]));
  return 0;
}
