import { none, parse, unknownSubcommand, wholeNumber } from './args.ts';
import { emit, table, type CommandContext } from './output.ts';

export const AUDIT_USAGE = `  audit list [--subject U] [--actor A] [--type T] [--since ISO-8601] [--limit N] [--offset N]`;

interface AuditEvent { at: string; type: string; actor: string | null; subject: string | null; details: Record<string, unknown> }

export async function auditCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'list') return unknownSubcommand('audit', sub);
  const { values, positionals } = parse(rest, {
    subject: { type: 'string' }, actor: { type: 'string' }, type: { type: 'string' }, since: { type: 'string' },
    limit: { type: 'string' }, offset: { type: 'string' },
  });
  none(positionals);
  const page = await cli.api.get<{ items: AuditEvent[] }>('/audit', {
    subject: values.subject, actor: values.actor, type: values.type, since: values.since,
    limit: wholeNumber(values.limit, '--limit'), offset: wholeNumber(values.offset, '--offset'),
  });
  emit(cli, page, () => table([['AT', 'TYPE', 'ACTOR', 'SUBJECT', 'DETAILS'], ...page.items.map((e) => [e.at, e.type, e.actor ?? '', e.subject ?? '', JSON.stringify(e.details)])]));
  return 0;
}
