import { none, parse, single, spaceList, unknownSubcommand, wholeNumber } from './args.ts';
import { emit, listCommand, type CommandContext } from './output.ts';
import { UsageError } from './usage.ts';

export const RESOURCES_USAGE = `  resources create --identifier URI [--name N] --scopes "s1 s2" [--token-format jwt|opaque]
                   [--access-token-ttl SECONDS] [--dynamic-clients]
  resources update URI [--name N] [--scopes "s1 s2"] [--token-format jwt|opaque]
                   [--access-token-ttl SECONDS] [--dynamic-clients | --no-dynamic-clients]
                   --scopes replaces the list; --dynamic-clients: clients nobody registered by hand
                   (dynamic registration, client ID metadata documents) may get its scopes (absent: not)
  resources list [--limit N] [--offset N]
  resources delete URI`;

interface Resource { identifier: string; name: string; scopes: string[]; token_format: string; access_token_ttl: number; dynamic_clients: boolean }

const describe = (resource: Resource) => `scopes: ${resource.scopes.join(' ')}; ${resource.token_format} tokens, ${resource.access_token_ttl} s${resource.dynamic_clients ? '; open to dynamic clients' : ''}`;

/** --dynamic-clients / --no-dynamic-clients; neither: unchanged (undefined) */
function dynamicClients(values: { 'dynamic-clients'?: boolean; 'no-dynamic-clients'?: boolean }): boolean | undefined {
  if (values['dynamic-clients'] && values['no-dynamic-clients']) throw new UsageError('--dynamic-clients and --no-dynamic-clients contradict each other: give one');
  if (values['dynamic-clients']) return true;
  return values['no-dynamic-clients'] ? false : undefined;
}

async function create(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, {
    identifier: { type: 'string' },
    name: { type: 'string' },
    scopes: { type: 'string' },
    'token-format': { type: 'string' },
    'access-token-ttl': { type: 'string' },
    'dynamic-clients': { type: 'boolean' },
  });
  none(positionals);
  if (!values.identifier) throw new UsageError('--identifier is required');
  if (values.scopes === undefined) throw new UsageError('--scopes is required');
  const resource = await cli.api.post<Resource>('/resources', {
    identifier: values.identifier,
    name: values.name,
    scopes: spaceList(values.scopes),
    token_format: values['token-format'],
    access_token_ttl: wholeNumber(values['access-token-ttl'], '--access-token-ttl'),
    dynamic_clients: values['dynamic-clients'] ? true : undefined,
  });
  emit(cli, resource, () => [`created resource server ${resource.identifier} (${describe(resource)})`]);
  return 0;
}

async function update(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, {
    name: { type: 'string' },
    scopes: { type: 'string' },
    'token-format': { type: 'string' },
    'access-token-ttl': { type: 'string' },
    'dynamic-clients': { type: 'boolean' },
    'no-dynamic-clients': { type: 'boolean' },
  });
  const identifier = single(positionals, 'resource identifier');
  const change = Object.fromEntries(Object.entries({
    name: values.name,
    scopes: values.scopes === undefined ? undefined : spaceList(values.scopes) ?? [],
    token_format: values['token-format'],
    access_token_ttl: wholeNumber(values['access-token-ttl'], '--access-token-ttl'),
    dynamic_clients: dynamicClients(values),
  }).filter(([, value]) => value !== undefined));
  if (!Object.keys(change).length) throw new UsageError('nothing to change: give at least one flag');
  const resource = await cli.api.patch<Resource>(`/resources/${encodeURIComponent(identifier)}`, change);
  emit(cli, resource, () => [`updated resource server ${resource.identifier} (${describe(resource)})`]);
  return 0;
}

export async function resourcesCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create': return create(rest, cli);
    case 'update': return update(rest, cli);
    case 'list': return listCommand<Resource>(cli, rest, '/resources', {
      IDENTIFIER: (r) => r.identifier, NAME: (r) => r.name, FORMAT: (r) => r.token_format, TTL: (r) => String(r.access_token_ttl), SCOPES: (r) => r.scopes.join(' '), DYNAMIC: (r) => (r.dynamic_clients ? 'yes' : 'no'),
    });
    case 'delete': {
      const identifier = single(parse(rest, {}).positionals, 'resource identifier');
      await cli.api.delete(`/resources/${encodeURIComponent(identifier)}`);
      emit(cli, { identifier, deleted: true }, () => [`deleted resource server ${identifier}`]);
      return 0;
    }
    default: return unknownSubcommand('resources', sub);
  }
}
