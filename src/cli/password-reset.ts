import { parse, single, wholeNumber } from './args.ts';
import { emit, type CommandContext } from './output.ts';
import { UsageError } from './usage.ts';

// `tessera users set-password U --reset-link [--expires-in SECONDS]`: a
// one-time link the person opens in a browser to choose a password. Kept in
// its own file: `users set-password U --password-stdin` (an admin sets the
// password) is the other form of the same command.

export const RESET_LINK_USAGE = '  users set-password U --reset-link [--expires-in SECONDS]   print a one-time password reset link (default 30 minutes)';

export async function passwordResetLink(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, {
    'reset-link': { type: 'boolean' },
    'expires-in': { type: 'string' },
  });
  const user = single(positionals, 'user');
  if (!values['reset-link']) throw new UsageError('--reset-link is required');
  const expiresIn = wholeNumber(values['expires-in'], '--expires-in');
  const answer = await cli.api.post<{ url: string; expires_at: string }>(
    `/users/${encodeURIComponent(user)}/password-reset`,
    expiresIn === undefined ? {} : { expires_in: expiresIn },
  );
  emit(cli, answer, () => [
    answer.url,
    `works once, until ${answer.expires_at}; give it to ${user} only (an earlier unused link no longer works)`,
  ]);
  return 0;
}
