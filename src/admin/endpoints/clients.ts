import { ADMIN_SCOPE, allowListOf, registrationProblems, type ClientRecord, type NewClient } from '../../clients/index.ts';
import { backchannelLogoutUriProblem, clientMetadataValidator, InvalidClientMetadataError } from '../../provider/index.ts';
import { AdminProblem, iso, notFound, page, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { pathId } from '../schemas/common.ts';
import { clientSchema, createClientSchema, type CreateClientBody } from '../schemas/clients.ts';
import { listQuerySchema } from '../schemas/users.ts';

/** What the API shows of a client: never its secret nor the secret's digest. */
export function clientView(client: ClientRecord) {
  const m = client.metadata as Record<string, unknown>;
  return {
    client_id: client.clientId,
    name: client.name,
    grant_types: m.grant_types ?? [],
    redirect_uris: m.redirect_uris ?? [],
    post_logout_redirect_uris: m.post_logout_redirect_uris ?? [],
    scopes: allowListOf(m),
    public: m.token_endpoint_auth_method === 'none',
    first_party: client.firstParty,
    token_endpoint_auth_method: m.token_endpoint_auth_method,
    introspect_for: client.introspectFor,
    backchannel_logout_uri: typeof m.backchannel_logout_uri === 'string' ? m.backchannel_logout_uri : null,
    backchannel_logout_session_required: m.backchannel_logout_session_required === true,
    created_at: iso(client.createdAt),
  };
}

/** The provider names metadata properties; the operator knows the admin API's field names. */
const FIELD_OF_METADATA: Array<[RegExp, string]> = [
  [/\bpost_logout_redirect_uris\b/, 'post_logout_redirect_uris'],
  [/\bredirect_uris?\b/, 'redirect_uris'],
  [/\b(grant_types|response_types)\b/, 'grant_types'],
  [/\btoken_endpoint_auth_method\b/, 'token_endpoint_auth_method'],
  [/\b(allowed_scopes|scope)\b/, 'scopes'],
  [/\bintrospect_for\b/, 'introspect_for'],
  [/\bclient_name\b/, 'name'],
  [/\bbackchannel_logout_uri\b/, 'backchannel_logout_uri'],
];

const fieldOf = (message: string) => FIELD_OF_METADATA.find(([pattern]) => pattern.test(message))?.[1] ?? '(client)';

function newClientOf(body: CreateClientBody): NewClient {
  return {
    name: body.name,
    grantTypes: body.grant_types,
    redirectUris: body.redirect_uris,
    postLogoutRedirectUris: body.post_logout_redirect_uris,
    scopes: body.scopes,
    public: body.public,
    firstParty: body.first_party,
    tokenEndpointAuthMethod: body.token_endpoint_auth_method,
    introspectFor: body.introspect_for,
    backchannelLogoutUri: body.backchannel_logout_uri,
    backchannelLogoutSessionRequired: body.backchannel_logout_session_required,
  };
}

export function clientRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { clients, resources, audit } = deps.services;
  const validate = clientMetadataValidator(deps.provider as never);
  const tag = 'clients';
  const params = { clientId: pathId };

  return [
    {
      method: 'post', path: '/clients', tag, summary: 'Register a client; the answer holds its secret, once',
      body: createClientSchema,
      responses: { 201: { description: 'the client, with client_secret unless it is public', schema: clientSchema } },
      async handle(ctx, { body, actor }: AdminInput<CreateClientBody>) {
        if (body.public && body.token_endpoint_auth_method && body.token_endpoint_auth_method !== 'none') {
          throw new AdminProblem(400, 'Invalid client metadata', 'a public client authenticates with "none"', [{ field: 'token_endpoint_auth_method', message: 'must be none (or absent) for a public client' }]);
        }
        const logoutUriProblem = body.backchannel_logout_uri === undefined ? undefined
          : backchannelLogoutUriProblem(body.backchannel_logout_uri, { allowLoopback: deps.config.backchannelLogout?.allowLoopback === true });
        if (logoutUriProblem) throw new AdminProblem(400, 'Invalid client metadata', `backchannel_logout_uri ${logoutUriProblem}`, [{ field: 'backchannel_logout_uri', message: logoutUriProblem }]);
        const problems = registrationProblems({
          grantTypes: body.grant_types, scopes: body.scopes, firstParty: body.first_party, public: body.public, introspectFor: body.introspect_for,
        }, await resources.offer());
        if (problems.length) throw new AdminProblem(400, 'Invalid client metadata', problems.map((p) => p.message).join('; '), problems);
        try {
          const { client, clientSecret } = await clients.create(newClientOf(body), validate);
          await audit.record({
            type: 'client.created', actor, subject: client.clientId, clientId: client.clientId,
            details: {
              name: client.name, grant_types: body.grant_types, scopes: body.scopes ?? [], first_party: client.firstParty, public: !clientSecret, introspect_for: client.introspectFor,
              ...(body.backchannel_logout_uri ? { backchannel_logout_uri: body.backchannel_logout_uri } : {}),
              // widening to administration is explicit and stands out in the audit log
              ...(body.scopes?.includes(ADMIN_SCOPE) ? { grants_admin: true } : {}),
            },
          });
          reply(ctx, 201, { ...clientView(client), ...(clientSecret ? { client_secret: clientSecret } : {}) });
        } catch (error) {
          if (!(error instanceof InvalidClientMetadataError)) throw error;
          throw new AdminProblem(400, 'Invalid client metadata', error.message, [{ field: fieldOf(error.message), message: error.message }]);
        }
      },
    },
    {
      method: 'get', path: '/clients', tag, summary: 'List clients (oldest first)',
      query: listQuerySchema,
      responses: { 200: { description: 'a page of clients', schema: clientSchema, list: true } },
      async handle(ctx, { query }: AdminInput<unknown, { limit: number; offset: number }>) {
        reply(ctx, 200, page((await clients.list(query)).map(clientView), query));
      },
    },
    {
      method: 'get', path: '/clients/:clientId', tag, summary: 'One client',
      params,
      responses: { 200: { description: 'the client', schema: clientSchema }, 404: { description: 'no such client' } },
      async handle(ctx, { params: p }) {
        const client = await clients.find(p.clientId);
        if (!client) throw notFound('client');
        reply(ctx, 200, clientView(client));
      },
    },
    {
      method: 'delete', path: '/clients/:clientId', tag, summary: "Delete a client and revoke all of its grants",
      params,
      responses: { 200: { description: 'the number of grants revoked' }, 404: { description: 'no such client' }, 409: { description: 'the client making the call cannot delete itself' } },
      async handle(ctx, { params: p, actor }) {
        // an admin that deletes the client it is calling with locks itself out
        if (p.clientId === actor) throw new AdminProblem(409, 'Conflict', 'the client whose token makes this call cannot delete itself');
        // Looked up rather than trusting delete()'s answer, which is wrong on
        // PGlite (knex-pglite returns a result object, not a row count).
        if (!await clients.find(p.clientId)) throw notFound('client');
        // deleted first: no new grant can be issued to it while its grants are revoked
        await clients.delete(p.clientId);
        const revoked = await deps.revocation.revokeGrantsOfClient(p.clientId);
        await audit.record({ type: 'client.deleted', actor, subject: p.clientId, clientId: p.clientId, details: { revoked_grants: revoked } });
        reply(ctx, 200, { client_id: p.clientId, deleted: true, revoked_grants: revoked });
      },
    },
  ];
}
