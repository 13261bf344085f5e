import { parseArgs } from 'node:util';
import { UsageError } from './usage.ts';

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** Strict parsing: an unknown flag or a missing value is a usage error, never ignored. */
export function parse<O extends Options>(args: string[], options: O) {
  return parseArgs({ args, options, allowPositionals: true, strict: true });
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
