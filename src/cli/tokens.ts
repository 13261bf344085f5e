import { parse, single, unknownSubcommand, wholeNumber } from './args.ts';
import { emit, type CommandContext } from './output.ts';

export const TOKENS_USAGE = `  tokens revoke JTI [--exp EPOCH-SECONDS]   denylists a JWT access token until it expires`;

export async function tokensCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'revoke') return unknownSubcommand('tokens', sub);
  const { values, positionals } = parse(rest, { exp: { type: 'string' } });
  const jti = single(positionals, 'JTI');
  const answer = await cli.api.post<{ jti: string; denied_until: string }>('/tokens/revoke', { jti, exp: wholeNumber(values.exp, '--exp') });
  emit(cli, answer, () => [`revoked ${answer.jti} (denied until ${answer.denied_until})`]);
  return 0;
}
