import { none, parse, unknownSubcommand } from './args.ts';
import { UsageError } from './usage.ts';
import type { KeyDescription, RotationResult } from '../keys/index.ts';
import { emit, table, type CommandContext } from './output.ts';

// The key store (and jose) is loaded by the steps that work on KEYS_DIR only:
// `keys list` asks the server, like every other admin command.
const keyStore = () => import('../keys/index.ts');

export const KEYS_USAGE = `  keys list                  the signing keys the answering server loaded, with their
                             status (next, current, previous)
  keys rotate [--stage]      step 1: new signing keys in KEYS_DIR as "next": once the
                             servers restart they publish and accept them, and still
                             sign with the current ones
  keys rotate --activate     step 2, after every instance restarted with step 1: the
                             next keys sign once the servers restart; the current ones
                             become "previous", accepted until their tokens expire
  keys retire [--force]      step 3: remove the previous keys whose tokens have all
                             expired (--force: every previous key now, for a key that
                             must not be trusted any more); restart to stop publishing`;

function keyTable(keys: readonly KeyDescription[]): string[] {
  return table([
    ['KID', 'KTY', 'ALG', 'STATUS', 'RETIRE AFTER'],
    ...keys.map((k) => [k.kid, k.kty, k.alg, k.status, k.retire_after ?? '']),
  ]);
}

function report(cli: CommandContext, result: RotationResult, verb: string, next: string): void {
  emit(cli, result, () => [
    ...(result.changed.length ? result.changed.map((k) => `${verb} ${k.alg} key ${k.kid}`) : [`no key to ${verb.replace(/d$/, '')}`]),
    '',
    ...keyTable(result.keys),
    '',
    next,
  ]);
}

export async function keysCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list': {
      none(parse(rest, {}).positionals);
      const answer = await cli.api.get<{ items: KeyDescription[] }>('/keys');
      emit(cli, answer, () => keyTable(answer.items));
      return 0;
    }
    case 'rotate': {
      // Works on KEYS_DIR itself: every instance reads its keys from there (or
      // from a copy of it) at start, so each step takes effect on restart.
      const { values, positionals } = parse(rest, { stage: { type: 'boolean' }, activate: { type: 'boolean' } });
      none(positionals);
      if (values.stage && values.activate) throw new UsageError('--stage and --activate are two steps: give one');
      const { activateSigningKeys, longestSignedTokenTtl, stageSigningKeys } = await keyStore();
      if (values.activate) {
        report(cli, activateSigningKeys(cli.keysDir, { retentionSeconds: longestSignedTokenTtl(cli.ttl) }), 'activated',
          'restart every instance (with the same KEYS_DIR files): each signs with the new keys once restarted; '
          + 'then, once the previous keys\' retire-after time has passed, "tessera keys retire"');
      } else {
        report(cli, await stageSigningKeys(cli.keysDir), 'staged',
          'restart every instance (with the same KEYS_DIR files) so that all publish and accept the new keys; '
          + 'then "tessera keys rotate --activate"');
      }
      return 0;
    }
    case 'retire': {
      const { values, positionals } = parse(rest, { force: { type: 'boolean' } });
      none(positionals);
      const { retireSigningKeys } = await keyStore();
      report(cli, retireSigningKeys(cli.keysDir, { force: values.force }), 'retired',
        'restart every instance (with the same KEYS_DIR files) to stop publishing and accepting the retired keys');
      return 0;
    }
    default: return unknownSubcommand('keys', sub);
  }
}
