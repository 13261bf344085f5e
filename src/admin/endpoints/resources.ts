import { isReservedScope, ResourceServerExistsError, type ResourceServer } from '../../clients/index.ts';
import { adminResourceOf } from '../../provider/index.ts';
import { AdminProblem, iso, notFound, page, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { pathUri } from '../schemas/common.ts';
import { createResourceSchema, resourceSchema, updateResourceSchema, type CreateResourceBody, type UpdateResourceBody } from '../schemas/resources.ts';
import { listQuerySchema } from '../schemas/users.ts';

export function resourceView(server: ResourceServer) {
  return {
    identifier: server.identifier,
    name: server.name,
    scopes: server.scopes,
    token_format: server.tokenFormat,
    access_token_ttl: server.accessTokenTtl,
    dynamic_clients: server.dynamicClients,
    created_at: iso(server.createdAt),
  };
}

/** Resource servers (APIs): an audience URI, its scopes, its token format and lifetime. */
export function resourceRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { resources, audit } = deps.services;
  const adminResource = adminResourceOf(deps.config.issuer);
  const tag = 'resources';
  // the identifier is a URI: in a path it travels percent-encoded (/resources/https%3A%2F%2Fapi.example)
  const params = { identifier: pathUri };
  // a client's allow-list is one list of names: `admin` and the OIDC scopes must keep one meaning in it
  const refuseReserved = (scopes: string[]) => {
    const reserved = scopes.filter(isReservedScope);
    if (reserved.length) {
      throw new AdminProblem(400, 'Invalid resource server', `reserved scope names: ${reserved.join(', ')}`, reserved.map((scope) => ({ field: 'scopes', message: `"${scope}" is reserved (the admin API's scope or an OpenID Connect scope)` })));
    }
  };
  const exists = () => new AdminProblem(409, 'Conflict', 'a resource server with this identifier exists', [{ field: 'identifier', message: 'already exists' }]);

  return [
    {
      method: 'post', path: '/resources', tag, summary: 'Register a resource server',
      body: createResourceSchema,
      responses: { 201: { description: 'the resource server', schema: resourceSchema }, 409: { description: 'it exists already' } },
      async handle(ctx, { body, actor }: AdminInput<CreateResourceBody>) {
        // the admin API is a built-in resource; shadowing it would change who may administer
        if (body.identifier === adminResource) throw exists();
        refuseReserved(body.scopes);
        try {
          const server = await resources.create({
            identifier: body.identifier,
            name: body.name,
            scopes: body.scopes,
            tokenFormat: body.token_format,
            accessTokenTtl: body.access_token_ttl,
            dynamicClients: body.dynamic_clients,
          });
          await audit.record({ type: 'resource.created', actor, subject: server.identifier, details: { scopes: server.scopes, token_format: server.tokenFormat, access_token_ttl: server.accessTokenTtl, dynamic_clients: server.dynamicClients } });
          reply(ctx, 201, resourceView(server));
        } catch (error) {
          if (error instanceof ResourceServerExistsError) throw exists();
          throw error;
        }
      },
    },
    {
      method: 'get', path: '/resources', tag, summary: 'List resource servers',
      query: listQuerySchema,
      responses: { 200: { description: 'a page of resource servers', schema: resourceSchema, list: true } },
      async handle(ctx, { query }: AdminInput<unknown, { limit: number; offset: number }>) {
        reply(ctx, 200, page((await resources.list(query)).map(resourceView), query));
      },
    },
    {
      method: 'get', path: '/resources/:identifier', tag, summary: 'One resource server (identifier percent-encoded)',
      params,
      responses: { 200: { description: 'the resource server', schema: resourceSchema }, 404: { description: 'no such resource server' } },
      async handle(ctx, { params: p }) {
        const server = await resources.find(p.identifier);
        if (!server) throw notFound('resource server');
        reply(ctx, 200, resourceView(server));
      },
    },
    {
      method: 'patch', path: '/resources/:identifier', tag, summary: 'Change a resource server: name, scopes, token format, access-token lifetime, dynamic clients',
      params, body: updateResourceSchema,
      responses: { 200: { description: 'the resource server', schema: resourceSchema }, 404: { description: 'no such resource server' } },
      async handle(ctx, { params: p, body, actor }: AdminInput<UpdateResourceBody>) {
        if (body.scopes) refuseReserved(body.scopes);
        const before = await resources.find(p.identifier);
        if (!before) throw notFound('resource server');
        const server = await resources.update(p.identifier, { name: body.name, scopes: body.scopes, tokenFormat: body.token_format, accessTokenTtl: body.access_token_ttl, dynamicClients: body.dynamic_clients });
        if (!server) throw notFound('resource server');
        const removedScopes = body.scopes ? before.scopes.filter((scope) => !body.scopes!.includes(scope)) : [];
        await audit.record({
          type: 'resource.updated', actor, subject: server.identifier,
          details: { fields: Object.keys(body).sort(), scopes: server.scopes, ...(removedScopes.length ? { removed_scopes: removedScopes } : {}), token_format: server.tokenFormat, access_token_ttl: server.accessTokenTtl, dynamic_clients: server.dynamicClients },
        });
        reply(ctx, 200, resourceView(server));
      },
    },
    {
      method: 'delete', path: '/resources/:identifier', tag, summary: 'Delete a resource server (tokens already issued stay valid until they expire)',
      params,
      responses: { 204: { description: 'deleted' }, 404: { description: 'no such resource server' } },
      async handle(ctx, { params: p, actor }) {
        // looked up first: delete()'s answer is wrong on PGlite (see clients.ts)
        if (!await resources.find(p.identifier)) throw notFound('resource server');
        await resources.delete(p.identifier);
        await audit.record({ type: 'resource.deleted', actor, subject: p.identifier });
        reply(ctx, 204);
      },
    },
  ];
}
