import { none, parse, unknownSubcommand } from './args.ts';
import { emit, table, type CommandContext } from './output.ts';

export const KEYS_USAGE = `  keys list
  keys rotate                (not supported yet)`;

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
    case 'rotate':
      // Keys are loaded once at start and shared by every instance through
      // KEYS_DIR; rotating them safely needs the keystore's support first.
      cli.stderr.write('tessera: keys rotate is not supported yet\n');
      return 1;
    default: return unknownSubcommand('keys', sub);
  }
}
