import { parse, unknownSubcommand, wholeNumber } from './args.ts';
import { emit, table, type CommandContext } from './output.ts';
import { UsageError } from './usage.ts';

export const GRANTS_USAGE = `  grants list --user U | --client C [--limit N] [--offset N]
  grants revoke ID | --user U | --client C   revokes the grants and every token they cover`;

interface Grant {
  id: string; client_id: string | null; client_name: string | null; account_id: string | null; scopes: string[]; resources: Record<string, string[]>;
  created_at: string | null; last_used_at: string | null; expires_at: string | null;
}

/** Exactly one of: the positional id (when allowed), --user, --client. */
function target(values: { user?: string; client?: string }, positionals: string[], allowId: boolean) {
  const given = [values.user, values.client, ...positionals].filter((v) => v !== undefined);
  if (given.length !== 1 || (!allowId && positionals.length)) {
    throw new UsageError(allowId ? 'give exactly one of ID, --user U and --client C' : 'give exactly one of --user U and --client C');
  }
  return values;
}

export async function grantsCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list': {
      const { values, positionals } = parse(rest, { user: { type: 'string' }, client: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' } });
      const { user, client } = target(values, positionals, false);
      const page = await cli.api.get<{ items: Grant[]; total: number }>('/grants', { user, client, limit: wholeNumber(values.limit, '--limit'), offset: wholeNumber(values.offset, '--offset') });
      emit(cli, page, () => [
        ...table([['GRANT', 'CLIENT', 'ACCOUNT', 'CREATED', 'LAST USED', 'SCOPES'], ...page.items.map((g) => [
          g.id, g.client_name ? `${g.client_name} (${g.client_id})` : (g.client_id ?? '?'), g.account_id ?? '?', g.created_at ?? '', g.last_used_at ?? 'never',
          [...g.scopes, ...Object.entries(g.resources).map(([uri, scopes]) => `${uri}: ${scopes.join(' ')}`)].join('; '),
        ])]),
        `${page.total} grant(s)`,
      ]);
      return 0;
    }
    case 'revoke': {
      const { values, positionals } = parse(rest, { user: { type: 'string' }, client: { type: 'string' } });
      const { user, client } = target(values, positionals, true);
      if (positionals.length) {
        await cli.api.delete(`/grants/${encodeURIComponent(positionals[0])}`);
        emit(cli, { id: positionals[0], revoked: true }, () => [`revoked grant ${positionals[0]}`]);
        return 0;
      }
      const answer = await cli.api.post<{ revoked_grants: number }>('/grants/revoke', user !== undefined ? { user } : { client });
      emit(cli, answer, () => [`revoked ${answer.revoked_grants} grant(s) of ${user !== undefined ? `user ${user}` : `client ${client} and cut off its access tokens (client_credentials ones included)`}`]);
      return 0;
    }
    default: return unknownSubcommand('grants', sub);
  }
}
