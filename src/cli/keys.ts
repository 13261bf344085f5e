import { none, parse, unknownSubcommand } from './args.ts';
import { rotateSigningKeys } from '../keys/index.ts';
import { emit, table, type CommandContext } from './output.ts';

export const KEYS_USAGE = `  keys list
  keys rotate                new signing keys in KEYS_DIR (the previous ones stay
                             published); restart the servers to sign with them`;

interface Key { kid: string; kty: string; alg: string; use: string }

export async function keysCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  none(parse(rest, {}).positionals);
  switch (sub) {
    case 'list': {
      const answer = await cli.api.get<{ items: Key[] }>('/keys');
      emit(cli, answer, () => table([['KID', 'KTY', 'ALG', 'USE'], ...answer.items.map((k) => [k.kid, k.kty, k.alg, k.use])]));
      return 0;
    }
    case 'rotate': {
      // Works on KEYS_DIR itself: every instance reads its keys from there (or
      // from a copy of it) at start, so the new keys take effect on restart.
      const result = await rotateSigningKeys(cli.keysDir);
      emit(cli, result, () => [
        ...result.added.map((k) => `added ${k.alg} key ${k.kid}`),
        ...result.retired.map((k) => `retired ${k.alg} key ${k.kid}`),
        'restart every instance (with the same KEYS_DIR files) to sign with the new keys',
      ]);
      return 0;
    }
    default: return unknownSubcommand('keys', sub);
  }
}
