import { readFileSync } from 'node:fs';
import { commaList, none, parse, single, spaceList, unknownSubcommand, wholeNumber } from './args.ts';
import { emit, listCommand, type CommandContext } from './output.ts';
import { UsageError } from './usage.ts';

export const CLIENTS_USAGE = `  clients create --name N --grant-types a,b [--redirect-uris u1,u2] [--post-logout-redirect-uris u1,u2]
                 [--scopes "s1 s2"] [--public] [--first-party] [--require-mfa]
                 [--token-endpoint-auth-method m] [--introspect-for URI,...]
                 [--token-exchange-audiences URI,...] [--token-exchange-impersonation]
                 [--backchannel-logout-uri URL] [--web-origins o1,o2]
                 [--tls-client-auth-subject-dn DN | --tls-client-auth-san-dns NAME | --tls-client-auth-san-uri URI
                  | --tls-client-auth-san-ip IP | --tls-client-auth-san-email EMAIL]
                 [--tls-client-certificate-bound-access-tokens]
                 [--application-type web|native] [--jwks FILE | --jwks-uri URL]
                 [--require-par] [--require-signed-request-object]
                 prints client_id and, once, client_secret
                 --scopes is the allow-list (absent: no scope at all; "admin": the admin API)
                 --grant-types: authorization_code, refresh_token, client_credentials, password,
                 urn:ietf:params:oauth:grant-type:device_code (TVs and other devices without a
                 browser, RFC 8628; public clients too)
                 --require-mfa: every sign-in to it proves a second factor (acr "mfa")
                 --token-exchange-audiences: the resource servers it may exchange a person's
                 tokens for (grant type urn:ietf:params:oauth:grant-type:token-exchange);
                 absent: none; --token-exchange-impersonation: its exchanged tokens carry
                 no act claim naming it (absent: they do)
                 --web-origins: origins (https://host[:port]) whose browser code may call the
                 token, userinfo, revocation and introspection endpoints; absent: those of the
                 redirect URIs for a public client, none for a confidential one; "" none
                 mTLS (the server needs TLS_CLIENT_CA_FILE or TLS_CLIENT_CERT_HEADER):
                 --token-endpoint-auth-method tls_client_auth with one --tls-client-auth-* subject
                 (no secret); --tls-client-certificate-bound-access-tokens binds its access tokens
                 to its certificate (cnf.x5t#S256); --token-endpoint-auth-method
                 self_signed_tls_client_auth with --jwks FILE holding its own certificate (x5c)
                 --application-type native: an app on a device (RFC 8252), with --public; redirect
                 URIs http://127.0.0.1/PATH or http://[::1]/PATH (any port matches), a reverse-domain
                 scheme (com.example.app:/callback) or a claimed https URI; absent: web
                 --jwks FILE: the client's public keys (a JWK Set, or one JWK), for
                 --token-endpoint-auth-method private_key_jwt and signed request objects;
                 --jwks-uri URL: where the server fetches them instead (https; loopback only
                 with JWKS_URI_ALLOW_LOOPBACK=true). Private keys are refused
                 --require-par: authorization requests only through PAR (POST /request)
                 --require-signed-request-object: only as signed request objects (needs keys)
  clients update ID [--name N] [--grant-types a,b] [--redirect-uris u1,u2]
                 [--post-logout-redirect-uris u1,u2] [--scopes "s1 s2"] [--first-party | --third-party]
                 [--require-mfa | --no-require-mfa] [--introspect-for URI,...]
                 [--token-exchange-audiences URI,...]
                 [--token-exchange-impersonation | --no-token-exchange-impersonation]
                 [--backchannel-logout-uri URL] [--web-origins o1,o2 | --default-web-origins]
                 [--token-endpoint-auth-method m]
                 [--tls-client-auth-subject-dn DN | --tls-client-auth-san-dns NAME | ...]
                 [--tls-client-certificate-bound-access-tokens | --no-tls-client-certificate-bound-access-tokens]
                 [--application-type web|native] [--jwks FILE | --jwks-uri URL | --no-jwks]
                 [--require-par | --no-require-par]
                 [--require-signed-request-object | --no-require-signed-request-object]
                 a given list replaces the stored one ("" empties it, as "" removes the URL);
                 --third-party takes first-party away (consent is asked again);
                 --no-require-mfa lets a password alone sign in to it again;
                 --default-web-origins: back to the origins of the redirect URIs (public) or none;
                 --jwks or --jwks-uri replaces the keys (either kind), --no-jwks removes them
  clients rotate-secret ID [--grace SECONDS]
                             a new secret, printed once; without --grace the old one stops
                             working, the client's access tokens are inactive and its grants
                             (refresh tokens) revoked at once;
                             with it the old secret works SECONDS more (at most 7 days)
  clients disable ID         refused everywhere; its grants revoked, its access tokens inactive
  clients enable ID          enabled again (its earlier tokens stay inactive)
  clients list [--limit N] [--offset N]
  clients show ID
  clients delete ID          also revokes the client's grants`;

interface Client { client_id: string; client_secret?: string; token_endpoint_auth_method?: string; name: string; grant_types: string[]; scopes: string[] | null; public: boolean; first_party: boolean; require_mfa: boolean }

/** What a registration holds that both create and update set. */
const REGISTRATION_FLAGS = {
  name: { type: 'string' },
  'grant-types': { type: 'string' },
  'redirect-uris': { type: 'string' },
  'post-logout-redirect-uris': { type: 'string' },
  scopes: { type: 'string' },
  'first-party': { type: 'boolean' },
  'require-mfa': { type: 'boolean' },
  'introspect-for': { type: 'string' },
  'token-exchange-audiences': { type: 'string' },
  'token-exchange-impersonation': { type: 'boolean' },
  'backchannel-logout-uri': { type: 'string' },
  'web-origins': { type: 'string' },
  'token-endpoint-auth-method': { type: 'string' },
  'tls-client-auth-subject-dn': { type: 'string' },
  'tls-client-auth-san-dns': { type: 'string' },
  'tls-client-auth-san-uri': { type: 'string' },
  'tls-client-auth-san-ip': { type: 'string' },
  'tls-client-auth-san-email': { type: 'string' },
  'tls-client-certificate-bound-access-tokens': { type: 'boolean' },
  'application-type': { type: 'string' },
  jwks: { type: 'string' },
  'jwks-uri': { type: 'string' },
  'require-par': { type: 'boolean' },
  'require-signed-request-object': { type: 'boolean' },
} as const;

/** --jwks FILE: a JWK Set, or one JWK (made a set of one); the server judges the keys. */
function jwksOfFile(file: string | undefined): { keys: unknown[] } | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--jwks: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`--jwks: ${file} is not JSON (a JWK Set {"keys": [...]} or one JWK)`);
  }
  if (typeof parsed === 'object' && parsed !== null && 'kty' in parsed) return { keys: [parsed] };
  return parsed as { keys: unknown[] };
}

function applicationType(value: string | undefined): 'web' | 'native' | undefined {
  if (value === undefined || value === 'web' || value === 'native') return value;
  throw new UsageError(`--application-type must be web or native, not "${value}"`);
}

/** --flag as in create; --no-flag takes it away (update); neither: unchanged. */
function toggle(values: Record<string, unknown>, flag: string): boolean | undefined {
  if (values[flag] && values[`no-${flag}`]) throw new UsageError(`--${flag} and --no-${flag} contradict each other: give one`);
  if (values[flag]) return true;
  return values[`no-${flag}`] ? false : undefined;
}

/** The client-kind fields both create and update send (absent flags: absent fields). */
function clientKindFields(values: Record<string, string | boolean | undefined>) {
  return {
    application_type: applicationType(values['application-type'] as string | undefined),
    require_pushed_authorization_requests: toggle(values, 'require-par'),
    require_signed_request_object: toggle(values, 'require-signed-request-object'),
  };
}

/** The mTLS fields both create and update send (absent flags: absent fields). */
function mtlsFields(values: Record<string, string | boolean | undefined>) {
  return {
    token_endpoint_auth_method: values['token-endpoint-auth-method'] as string | undefined,
    tls_client_auth_subject_dn: values['tls-client-auth-subject-dn'] as string | undefined,
    tls_client_auth_san_dns: values['tls-client-auth-san-dns'] as string | undefined,
    tls_client_auth_san_uri: values['tls-client-auth-san-uri'] as string | undefined,
    tls_client_auth_san_ip: values['tls-client-auth-san-ip'] as string | undefined,
    tls_client_auth_san_email: values['tls-client-auth-san-email'] as string | undefined,
  };
}

/** --tls-client-certificate-bound-access-tokens; --no-… takes it away (update); neither: unchanged. */
function boundTokens(values: { 'tls-client-certificate-bound-access-tokens'?: boolean; 'no-tls-client-certificate-bound-access-tokens'?: boolean }): boolean | undefined {
  if (values['tls-client-certificate-bound-access-tokens'] && values['no-tls-client-certificate-bound-access-tokens']) {
    throw new UsageError('--tls-client-certificate-bound-access-tokens and --no-tls-client-certificate-bound-access-tokens contradict each other: give one');
  }
  if (values['tls-client-certificate-bound-access-tokens']) return true;
  return values['no-tls-client-certificate-bound-access-tokens'] ? false : undefined;
}

async function create(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, {
    ...REGISTRATION_FLAGS,
    public: { type: 'boolean' },
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
    require_mfa: values['require-mfa'],
    introspect_for: commaList(values['introspect-for']),
    token_exchange_audiences: commaList(values['token-exchange-audiences']),
    token_exchange_impersonation: values['token-exchange-impersonation'],
    backchannel_logout_uri: values['backchannel-logout-uri'],
    // "" registers none (a public client's default is its redirect origins)
    web_origins: listOrEmpty(values['web-origins'], commaList),
    ...mtlsFields(values),
    tls_client_certificate_bound_access_tokens: boundTokens(values),
    ...clientKindFields(values),
    jwks: jwksOfFile(values.jwks),
    jwks_uri: values['jwks-uri'],
  });
  emit(cli, client, () => [
    `client_id: ${client.client_id}`,
    ...(client.client_secret ? [`client_secret: ${client.client_secret}`, '(store the secret now: it is not shown again)']
      : client.token_endpoint_auth_method === 'tls_client_auth' ? ['(tls_client_auth: it authenticates with its certificate, no secret)']
        : client.token_endpoint_auth_method === 'private_key_jwt' ? ['(private_key_jwt: it authenticates with its keys, no secret)'] : ['(public client: no secret)']),
  ]);
  return 0;
}

/** "" → [] (empties the list); absent → absent (unchanged). */
const listOrEmpty = (value: string | undefined, split: (v: string | undefined) => string[] | undefined) => (value === undefined ? undefined : split(value) ?? []);

/** --first-party as in create; --third-party takes it away; neither: unchanged. */
function firstParty(values: { 'first-party'?: boolean; 'third-party'?: boolean }): boolean | undefined {
  if (values['first-party'] && values['third-party']) throw new UsageError('--first-party and --third-party contradict each other: give one');
  if (values['first-party']) return true;
  return values['third-party'] ? false : undefined;
}

/** --token-exchange-impersonation as in create; --no-… takes it away; neither: unchanged. */
function impersonation(values: { 'token-exchange-impersonation'?: boolean; 'no-token-exchange-impersonation'?: boolean }): boolean | undefined {
  if (values['token-exchange-impersonation'] && values['no-token-exchange-impersonation']) {
    throw new UsageError('--token-exchange-impersonation and --no-token-exchange-impersonation contradict each other: give one');
  }
  if (values['token-exchange-impersonation']) return true;
  return values['no-token-exchange-impersonation'] ? false : undefined;
}

/** --require-mfa as in create; --no-require-mfa takes it away; neither: unchanged. */
function requireMfa(values: { 'require-mfa'?: boolean; 'no-require-mfa'?: boolean }): boolean | undefined {
  if (values['require-mfa'] && values['no-require-mfa']) throw new UsageError('--require-mfa and --no-require-mfa contradict each other: give one');
  if (values['require-mfa']) return true;
  return values['no-require-mfa'] ? false : undefined;
}

async function update(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { ...REGISTRATION_FLAGS, 'third-party': { type: 'boolean' }, 'no-require-mfa': { type: 'boolean' }, 'default-web-origins': { type: 'boolean' }, 'no-tls-client-certificate-bound-access-tokens': { type: 'boolean' }, 'no-token-exchange-impersonation': { type: 'boolean' }, 'no-jwks': { type: 'boolean' }, 'no-require-par': { type: 'boolean' }, 'no-require-signed-request-object': { type: 'boolean' } });
  if (values['no-jwks'] && (values.jwks !== undefined || values['jwks-uri'] !== undefined)) throw new UsageError('--no-jwks contradicts --jwks and --jwks-uri: give one');
  if (values['web-origins'] !== undefined && values['default-web-origins']) throw new UsageError('--web-origins and --default-web-origins contradict each other: give one');
  const id = single(positionals, 'client id');
  const change = Object.fromEntries(Object.entries({
    name: values.name,
    grant_types: listOrEmpty(values['grant-types'], commaList),
    redirect_uris: listOrEmpty(values['redirect-uris'], commaList),
    post_logout_redirect_uris: listOrEmpty(values['post-logout-redirect-uris'], commaList),
    scopes: listOrEmpty(values.scopes, spaceList),
    first_party: firstParty(values),
    require_mfa: requireMfa(values),
    introspect_for: listOrEmpty(values['introspect-for'], commaList),
    token_exchange_audiences: listOrEmpty(values['token-exchange-audiences'], commaList),
    token_exchange_impersonation: impersonation(values),
    // "" removes it
    backchannel_logout_uri: values['backchannel-logout-uri'] === undefined ? undefined : (values['backchannel-logout-uri'] || null),
    // null: back to the default
    web_origins: values['default-web-origins'] ? null : listOrEmpty(values['web-origins'], commaList),
    ...mtlsFields(values),
    tls_client_certificate_bound_access_tokens: boundTokens(values),
    ...clientKindFields(values),
    // --no-jwks removes the keys, whichever kind is stored
    jwks: values['no-jwks'] ? null : jwksOfFile(values.jwks),
    jwks_uri: values['no-jwks'] ? null : values['jwks-uri'],
  }).filter(([, value]) => value !== undefined));
  if (!Object.keys(change).length) throw new UsageError('nothing to change: give at least one flag');
  const client = await cli.api.patch<Client>(`/clients/${encodeURIComponent(id)}`, change);
  emit(cli, client, () => [
    `updated client ${client.client_id}`,
    ...(client.client_secret ? [`client_secret: ${client.client_secret}`, '(store the secret now: it is not shown again)'] : []),
  ]);
  return 0;
}

async function rotateSecret(args: string[], cli: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { grace: { type: 'string' } });
  const id = single(positionals, 'client id');
  const grace = wholeNumber(values.grace, '--grace');
  const client = await cli.api.post<Client & { previous_secret_expires_at: string | null }>(`/clients/${encodeURIComponent(id)}/rotate-secret`, grace === undefined ? {} : { grace_seconds: grace });
  emit(cli, client, () => [
    `client_id: ${client.client_id}`,
    `client_secret: ${client.client_secret}`,
    '(store the secret now: it is not shown again)',
    client.previous_secret_expires_at ? `the old secret works until ${client.previous_secret_expires_at}` : 'the old secret no longer works; access tokens issued with it are inactive',
  ]);
  return 0;
}

export async function clientsCommand(args: string[], cli: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create': return create(rest, cli);
    case 'update': return update(rest, cli);
    case 'rotate-secret': return rotateSecret(rest, cli);
    case 'disable': {
      const id = single(parse(rest, {}).positionals, 'client id');
      const answer = await cli.api.post<{ client: Client; revoked_grants: number }>(`/clients/${encodeURIComponent(id)}/disable`);
      emit(cli, answer, () => [`disabled client ${answer.client.client_id}; revoked ${answer.revoked_grants} grant(s)`]);
      return 0;
    }
    case 'enable': {
      const id = single(parse(rest, {}).positionals, 'client id');
      const client = await cli.api.post<Client>(`/clients/${encodeURIComponent(id)}/enable`);
      emit(cli, client, () => [`enabled client ${client.client_id}`]);
      return 0;
    }
    case 'list': return listCommand<Client>(cli, rest, '/clients', {
      CLIENT_ID: (c) => c.client_id, NAME: (c) => c.name, 'GRANT TYPES': (c) => c.grant_types.join(','), SCOPES: (c) => (c.scopes ?? []).join(' '),
    });
    case 'show': {
      // the command line is checked before cli.api is touched (it needs credentials)
      const id = single(parse(rest, {}).positionals, 'client id');
      const client = await cli.api.get<Client>(`/clients/${encodeURIComponent(id)}`);
      // objects (a JWK Set) as JSON, lists space-separated
      emit(cli, client, () => Object.entries(client).map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(' ') : value !== null && typeof value === 'object' ? JSON.stringify(value) : value}`));
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
