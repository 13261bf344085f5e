/** A command line that cannot be run as given: exit code 2 and the usage text (of its command group, when known). */
export class UsageError extends Error {
  readonly usage?: string;
  constructor(message: string, usage?: string) {
    super(message);
    this.usage = usage;
  }
}

/**
 * Only our own: args.ts turns every parser error into a UsageError, so no
 * raw node:util message (with its misleading advice) reaches the user.
 */
export const isUsageError = (error: unknown): error is UsageError => error instanceof UsageError;

/** --help or -h among the arguments (before a `--`, after which everything is an argument). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/**
 * Usage texts are lists of entries: a line at two spaces that starts with the
 * command's words ("users create ...", "serve"), continued by more deeply
 * indented lines. Help, suggestions and the list of commands are read from
 * them, so a command exists for these once it is in the usage text. A note
 * (prose) comes after a blank line and is indented by four spaces or more.
 */
function entries(usage: string, words: readonly string[]): Array<{ next?: string; lines: string[] }> {
  const found: Array<{ next?: string; lines: string[] }> = [];
  let inside = false;
  for (const line of usage.split('\n')) {
    if (/^ {2}\S/.test(line)) {
      const tokens = line.trim().split(/\s+/);
      inside = words.every((word, i) => tokens[i] === word);
      const next = tokens[words.length];
      if (inside) found.push({ next: next && /^[a-z][a-z-]*$/.test(next) ? next : undefined, lines: [line] });
    } else if (inside && /^ {3,}\S/.test(line)) {
      found.at(-1)!.lines.push(line);
    } else {
      inside = false;
    }
  }
  return found;
}

/** The commands a usage text lists after `words` (top level: none), in order and once each. */
export const commandsIn = (usage: string, words: readonly string[] = []): string[] =>
  [...new Set(entries(usage, words).map((e) => (words.length ? e.next : e.lines[0].trim().split(/\s+/)[0])).filter((w): w is string => !!w && /^[a-z][a-z-]*$/.test(w)))];

/** The usage entries of a command (e.g. ["users", "create"]): all its lines; undefined when the text has none. */
export function usageFor(usage: string, words: readonly string[]): string | undefined {
  const lines = entries(usage, words).flatMap((e) => e.lines);
  return lines.length ? lines.join('\n') : undefined;
}
