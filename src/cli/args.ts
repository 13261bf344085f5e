import { parseArgs } from 'node:util';
import { UsageError } from './usage.ts';
import { didYouMean } from './suggest.ts';

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** Flags every command takes, read before the command's own (offered in suggestions too). */
export const GLOBAL_FLAGS = ['json', 'help'];

/**
 * The command line against its options, in our words: node:util's messages
 * name the flag but advise putting it after `--` as a positional argument,
 * which is never what a mistyped flag wants.
 */
function checkOptions(args: string[], options: NonNullable<Options>): void {
  const flags = [...Object.keys(options), ...GLOBAL_FLAGS];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') return;
    if (!arg.startsWith('-') || arg === '-') continue;
    if (!arg.startsWith('--')) {
      // no command has single-letter options: "-name" is most likely "--name";
      // an id may begin with "-" too (grant ids, older client ids): it goes after --
      const suggestion = didYouMean(arg.replace(/^-+/, ''), flags, (f) => `--${f}`);
      throw new UsageError(`unknown option ${arg}${suggestion || `; an argument that begins with "-" goes after --: ... -- ${arg}`}`);
    }
    const [name, ...inline] = arg.slice(2).split('=');
    const option = Object.hasOwn(options, name) ? options[name] : undefined;
    if (!option && GLOBAL_FLAGS.includes(name)) throw new UsageError(inline.length ? `--${name} takes no value` : `--${name} is not an option here`);
    if (!option) throw new UsageError(`unknown option --${name}${didYouMean(name, flags, (f) => `--${f}`)}`);
    if (option.type === 'boolean') {
      if (inline.length) throw new UsageError(`--${name} takes no value`);
      continue;
    }
    if (inline.length) continue;
    const value = args[i + 1];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (value.length > 1 && value.startsWith('-')) {
      throw new UsageError(`--${name} needs a value, not the option "${value}" (for a value that starts with "-", write --${name}=${value})`);
    }
    i++;
  }
}

/** Strict parsing: an unknown flag or a missing value is a usage error, never ignored. */
export function parse<O extends Options>(args: string[], options: O) {
  checkOptions(args, options ?? {});
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    // checkOptions refuses what parseArgs would; should they ever differ, the
    // parser's own advice still does not reach the user
    if (/^ERR_PARSE_ARGS_/.test(String((error as { code?: unknown }).code))) throw new UsageError('the options cannot be read as given');
    throw error;
  }
}

/** Exactly one positional argument, named `what` in the error. */
export function single(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return positionals[0];
}

export function none(positionals: string[]): void {
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
}

/** "a,b" → ['a', 'b']; "s1 s2" → ['s1', 's2'] */
export const commaList = (value: string | undefined) => value?.split(',').map((s) => s.trim()).filter(Boolean);
export const spaceList = (value: string | undefined) => value?.split(/[\s,]+/).filter(Boolean);

export function wholeNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number`);
  return Number(value);
}

export function unknownSubcommand(group: string, sub: string | undefined): never {
  throw new UsageError(sub ? `unknown command "${group} ${sub}"` : `"${group}" needs a subcommand`);
}
