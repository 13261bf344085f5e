import { commaList, none, parse, single, unknownSubcommand, wholeNumber } from './args.ts';
import { emit, listCommand, table, type CommandContext } from './output.ts';
import { UsageError } from './usage.ts';

export const WEBHOOKS_USAGE = `  webhooks create --url URL --events e1,e2 [--description TEXT]
  webhooks list [--limit N] [--offset N]
  webhooks delete ID
  webhooks deliveries ID [--status pending|delivered|failed] [--limit N] [--offset N]
  webhooks redeliver ID DELIVERY_ID`;

interface Webhook { id: string; url: string; events: string[]; created_at: string; secret?: string }
interface Delivery {
  id: string; event_id: string; event_type: string; status: string; attempts: number;
  next_attempt_at: string | null; last_status_code: number | null; last_error: string | null; delivered_at: string | null; created_at: string;
}

async function create(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { url: { type: 'string' }, events: { type: 'string' }, description: { type: 'string' } });
  none(positionals);
  if (!values.url) throw new UsageError('--url is required');
  if (!values.events) throw new UsageError('--events is required (comma-separated audit event types)');
  const webhook = await cli.api.post<Webhook>('/webhooks', { url: values.url, events: commaList(values.events), description: values.description });
  emit(cli, webhook, () => [
    `created webhook ${webhook.id} → ${webhook.url} (${webhook.events.join(', ')})`,
    `secret: ${webhook.secret}`,
    'The signing secret is shown only now: keep it where the receiver can read it.',
  ]);
  return 0;
}

async function deliveries(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { status: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' } });
  const id = single(positionals, 'webhook id');
  const page = await cli.api.get<{ items: Delivery[] }>(`/webhooks/${encodeURIComponent(id)}/deliveries`, {
    status: values.status, limit: wholeNumber(values.limit, '--limit'), offset: wholeNumber(values.offset, '--offset'),
  });
  emit(cli, page, () => table([
    ['ID', 'EVENT', 'TYPE', 'STATUS', 'ATTEMPTS', 'LAST', 'NEXT ATTEMPT'],
    ...page.items.map((d) => [d.id, d.event_id, d.event_type, d.status, String(d.attempts),
      d.last_error ?? (d.last_status_code === null ? '' : String(d.last_status_code)), d.next_attempt_at ?? '']),
  ]));
  return 0;
}

export async function webhooksCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create': return create(rest, cli);
    case 'list': return listCommand<Webhook>(cli, rest, '/webhooks', {
      ID: (w) => w.id, URL: (w) => w.url, EVENTS: (w) => w.events.join(','), CREATED: (w) => w.created_at,
    });
    case 'delete': {
      const id = single(parse(rest, {}).positionals, 'webhook id');
      await cli.api.delete(`/webhooks/${encodeURIComponent(id)}`);
      emit(cli, { id, deleted: true }, () => [`deleted webhook ${id}`]);
      return 0;
    }
    case 'deliveries': return deliveries(rest, cli);
    case 'redeliver': {
      const { positionals } = parse(rest, {});
      if (positionals.length !== 2) throw new UsageError('expected a webhook id and a delivery id');
      const [id, deliveryId] = positionals;
      const answer = await cli.api.post(`/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`);
      emit(cli, answer, () => [`delivery ${deliveryId} queued again`]);
      return 0;
    }
    default: return unknownSubcommand('webhooks', sub);
  }
}
