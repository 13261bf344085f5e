import { parse, unknownSubcommand, wholeNumber } from './args.ts';
import { emit, table, type CommandContext } from './output.ts';
import { UsageError } from './usage.ts';

export const SESSIONS_USAGE = `  sessions list --user U [--limit N] [--offset N]   a user's sign-in sessions (device, address, last use)
  sessions end ID | --user U   ends one session or all of a user's: their grants are revoked,
                               their clients get back-channel logout tokens`;

interface Session {
  id: string; device: string | null; ip: string | null; created_at: string; last_active_at: string | null;
  clients: Array<{ client_id: string; name: string | null }>;
}

export async function sessionsCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list': {
      const { values, positionals } = parse(rest, { user: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' } });
      if (positionals.length || values.user === undefined) throw new UsageError('give --user U');
      const page = await cli.api.get<{ items: Session[]; total: number }>('/sessions', { user: values.user, limit: wholeNumber(values.limit, '--limit'), offset: wholeNumber(values.offset, '--offset') });
      emit(cli, page, () => [
        ...table([['SESSION', 'DEVICE', 'ADDRESS', 'CREATED', 'LAST ACTIVE', 'CLIENTS'], ...page.items.map((s) => [
          s.id, s.device ?? '?', s.ip ?? '?', s.created_at, s.last_active_at ?? '-', s.clients.map((c) => c.name ?? c.client_id).join(', '),
        ])]),
        `${page.total} session(s)`,
      ]);
      return 0;
    }
    case 'end': {
      const { values, positionals } = parse(rest, { user: { type: 'string' } });
      if ([values.user, ...positionals].filter((v) => v !== undefined).length !== 1) throw new UsageError('give exactly one of ID and --user U');
      if (positionals.length) {
        await cli.api.delete(`/sessions/${encodeURIComponent(positionals[0])}`);
        emit(cli, { id: positionals[0], ended: true }, () => [`ended session ${positionals[0]}`]);
        return 0;
      }
      const answer = await cli.api.post<{ user: string; ended_sessions: number }>('/sessions/end', { user: values.user });
      emit(cli, answer, () => [`ended ${answer.ended_sessions} session(s) of user ${values.user}`]);
      return 0;
    }
    default: return unknownSubcommand('sessions', sub);
  }
}
