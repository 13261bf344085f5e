import { commaList, none, parse, single, spaceList, unknownSubcommand } from './args.ts';
import { emit, listCommand, type CommandContext } from './output.ts';
import { UsageError } from './usage.ts';

export const CLIENTS_USAGE = `  clients create --name N --grant-types a,b [--redirect-uris u1,u2] [--post-logout-redirect-uris u1,u2]
                 [--scopes "s1 s2"] [--public] [--first-party] [--token-endpoint-auth-method m]
                 [--introspect-for URI,...] [--backchannel-logout-uri URL]
                 prints client_id and, once, client_secret
                 --scopes is the allow-list (absent: no scope at all; "admin": the admin API)
  clients list [--limit N] [--offset N]
  clients show ID
  clients delete ID          also revokes the client's grants`;

interface Client { client_id: string; client_secret?: string; name: string; grant_types: string[]; scopes: string[] | null; public: boolean; first_party: boolean }

async function create(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, {
    name: { type: 'string' },
    'grant-types': { type: 'string' },
    'redirect-uris': { type: 'string' },
    'post-logout-redirect-uris': { type: 'string' },
    scopes: { type: 'string' },
    public: { type: 'boolean' },
    'first-party': { type: 'boolean' },
    'token-endpoint-auth-method': { type: 'string' },
    'introspect-for': { type: 'string' },
    'backchannel-logout-uri': { type: 'string' },
  });
  none(positionals);
  if (!values.name) throw new UsageError('--name is required');
  if (!values['grant-types']) throw new UsageError('--grant-types is required');
  const client = await cli.api.post<Client>('/clients', {
    name: values.name,
    grant_types: commaList(values['grant-types']),
    redirect_uris: commaList(values['redirect-uris']),
    post_logout_redirect_uris: commaList(values['post-logout-redirect-uris']),
    scopes: spaceList(values.scopes),
    public: values.public,
    first_party: values['first-party'],
    token_endpoint_auth_method: values['token-endpoint-auth-method'],
    introspect_for: commaList(values['introspect-for']),
    backchannel_logout_uri: values['backchannel-logout-uri'],
  });
  emit(cli, client, () => [
    `client_id: ${client.client_id}`,
    ...(client.client_secret ? [`client_secret: ${client.client_secret}`, '(store the secret now: it is not shown again)'] : ['(public client: no secret)']),
  ]);
  return 0;
}

export async function clientsCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create': return create(rest, cli);
    case 'list': return listCommand<Client>(cli, rest, '/clients', {
      CLIENT_ID: (c) => c.client_id, NAME: (c) => c.name, 'GRANT TYPES': (c) => c.grant_types.join(','), SCOPES: (c) => (c.scopes ?? []).join(' '),
    });
    case 'show': {
      // the command line is checked before cli.api is touched (it needs credentials)
      const id = single(parse(rest, {}).positionals, 'client id');
      const client = await cli.api.get<Client>(`/clients/${encodeURIComponent(id)}`);
      emit(cli, client, () => Object.entries(client).map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(' ') : value}`));
      return 0;
    }
    case 'delete': {
      const id = single(parse(rest, {}).positionals, 'client id');
      const answer = await cli.api.delete<{ client_id: string; revoked_grants: number }>(`/clients/${encodeURIComponent(id)}`);
      emit(cli, answer, () => [`deleted client ${answer.client_id}; revoked ${answer.revoked_grants} grant(s)`]);
      return 0;
    }
    default: return unknownSubcommand('clients', sub);
  }
}
