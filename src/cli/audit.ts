import { none, parse, unknownSubcommand, wholeNumber } from './args.ts';
import { emit, table, type CommandContext } from './output.ts';
import { UsageError } from './usage.ts';

export const AUDIT_USAGE = `  audit list [--subject U] [--actor A] [--client C] [--type T[,T...]] [--since ISO-8601]
             [--until ISO-8601] [--limit N] [--cursor C | --offset N]
                             audit events, newest first; prints the next page's --cursor
  audit export [--subject U] [--actor A] [--client C] [--type T[,T...]] [--since ISO-8601]
             [--until ISO-8601]
                             every matching event as JSON lines on stdout`;

interface AuditEvent { at: string; type: string; actor: string | null; subject: string | null; client_id: string | null; ip: string | null; details: Record<string, unknown> }

const FILTER_FLAGS = {
  subject: { type: 'string' }, actor: { type: 'string' }, client: { type: 'string' }, type: { type: 'string' },
  since: { type: 'string' }, until: { type: 'string' },
} as const;

const filtersOf = (values: Partial<Record<keyof typeof FILTER_FLAGS, string>>) => ({
  subject: values.subject, actor: values.actor, client: values.client, type: values.type, since: values.since, until: values.until,
});

export async function auditCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list': {
      const { values, positionals } = parse(rest, { ...FILTER_FLAGS, limit: { type: 'string' }, offset: { type: 'string' }, cursor: { type: 'string' } });
      none(positionals);
      if (values.cursor !== undefined && values.offset !== undefined) throw new UsageError('--cursor and --offset are two ways to page: give one');
      const page = await cli.api.get<{ items: AuditEvent[]; next_cursor?: string }>('/audit', {
        ...filtersOf(values),
        limit: wholeNumber(values.limit, '--limit'), offset: wholeNumber(values.offset, '--offset'), cursor: values.cursor,
      });
      emit(cli, page, () => [
        ...table([['AT', 'TYPE', 'ACTOR', 'SUBJECT', 'CLIENT', 'IP', 'DETAILS'], ...page.items.map((e) => [e.at, e.type, e.actor ?? '', e.subject ?? '', e.client_id ?? '', e.ip ?? '', JSON.stringify(e.details)])]),
        ...(page.next_cursor ? ['', `more: --cursor ${page.next_cursor}`] : []),
      ]);
      return 0;
    }
    case 'export': {
      // JSON lines whether or not --json is given: one event per line is the export's format
      const { values, positionals } = parse(rest, FILTER_FLAGS);
      none(positionals);
      await cli.api.download('/audit/export', filtersOf(values), (chunk) => cli.stdout.write(chunk));
      return 0;
    }
    default:
      return unknownSubcommand('audit', sub);
  }
}
