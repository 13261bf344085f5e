import { none, parse, single, unknownSubcommand, wholeNumber } from './args.ts';
import { emit, listCommand, type CommandContext } from './output.ts';

export const REGISTRATION_USAGE = `  registration tokens create [--uses N] [--ttl SECONDS] [--description TEXT]
                             an initial access token for dynamic client registration
                             (DYNAMIC_REGISTRATION=token); printed once as initial_access_token
  registration tokens list [--limit N] [--offset N]
  registration tokens revoke ID`;

interface RegistrationToken { id: string; uses: number; uses_left: number; expires_at: string; expired: boolean; description: string | null; initial_access_token?: string }

async function create(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { uses: { type: 'string' }, ttl: { type: 'string' }, description: { type: 'string' } });
  none(positionals);
  const token = await cli.api.post<RegistrationToken>('/registration-tokens', {
    uses: wholeNumber(values.uses, '--uses'), ttl_seconds: wholeNumber(values.ttl, '--ttl'), description: values.description,
  });
  emit(cli, token, () => [
    `created initial access token ${token.id}: ${token.uses} registration${token.uses === 1 ? '' : 's'}, until ${token.expires_at}`,
    `initial_access_token: ${token.initial_access_token}`,
    'The token is shown only now. The registering client sends it as "Authorization: Bearer <token>" to /reg.',
  ]);
  return 0;
}

export async function registrationCommand(args: string[], cli: CommandContext): Promise<number> {
  const [group, sub, ...rest] = args;
  if (group !== 'tokens') return unknownSubcommand('registration', group);
  // `registration tokens --bad-flag`: the flag is named, as for every other command
  if (sub === undefined || sub.startsWith('-')) {
    parse(sub === undefined ? [] : [sub, ...rest], {});
    return unknownSubcommand('registration tokens', sub);
  }
  switch (sub) {
    case 'create': return create(rest, cli);
    case 'list': return listCommand<RegistrationToken>(cli, rest, '/registration-tokens', {
      ID: (t) => t.id, 'USES LEFT': (t) => `${t.uses_left}/${t.uses}`, EXPIRES: (t) => `${t.expires_at}${t.expired ? ' (expired)' : ''}`, DESCRIPTION: (t) => t.description ?? '',
    });
    case 'revoke': {
      const id = single(parse(rest, {}).positionals, 'token id');
      await cli.api.delete(`/registration-tokens/${encodeURIComponent(id)}`);
      emit(cli, { id, revoked: true }, () => [`revoked initial access token ${id}`]);
      return 0;
    }
    default: return unknownSubcommand('registration tokens', sub);
  }
}
