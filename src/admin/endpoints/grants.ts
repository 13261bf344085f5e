import { AdminProblem, notFound, page, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { pathId } from '../schemas/common.ts';
import { grantSchema, grantsQuerySchema, revokeGrantsSchema, type RevokeGrantsBody } from '../schemas/grants.ts';

interface GrantsQuery { user?: string; client?: string; limit: number; offset: number }

const epochToIso = (seconds: unknown) => (typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : null);
const scopeList = (scope: string) => scope.split(' ').filter(Boolean);

/** Grants: what a user allowed a client. Revoking one makes every token it covers inactive. */
export function grantRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { accounts, audit, clients } = deps.services;
  const { tokenState, revocation, provider } = deps;
  const tag = 'grants';

  /** A user by id or username → the account id the grant index knows. */
  async function accountIdOf(idOrUsername: string): Promise<string> {
    const account = await accounts.findByIdOrUsername(idOrUsername);
    if (!account) throw notFound('user');
    return account.id;
  }

  /**
   * Details when the grant is still readable; the id alone when it is not
   * (expired meanwhile). `names` caches client names for one listing.
   */
  async function grantView(id: string, lastUsed: Map<string, number>, names: Map<string, Promise<string | null>>) {
    const grant = await provider.Grant.find(id);
    const last_used_at = epochToIso(lastUsed.get(id));
    if (!grant) return { id, client_id: null, client_name: null, account_id: null, scopes: [], resources: {}, issued_at: null, created_at: null, last_used_at, expires_at: null };
    const resources = Object.fromEntries(Object.keys(grant.resources ?? {}).map((uri) => [uri, scopeList(grant.getResourceScope(uri))]));
    const clientId = grant.clientId ?? null;
    if (clientId && !names.has(clientId)) names.set(clientId, clients.find(clientId).then((client) => client?.name ?? null));
    return {
      id,
      client_id: clientId,
      client_name: clientId ? await names.get(clientId)! : null,
      account_id: grant.accountId ?? null,
      scopes: scopeList(grant.getOIDCScope()),
      resources,
      // issued_at: the name before created_at existed; the same instant
      issued_at: epochToIso(grant.iat),
      created_at: epochToIso(grant.iat),
      last_used_at,
      expires_at: epochToIso(grant.exp),
    };
  }

  const exactlyOne = () => new AdminProblem(400, 'Bad Request', 'give exactly one of user and client', [{ field: 'user', message: 'exactly one of user and client is required' }]);

  return [
    {
      method: 'get', path: '/grants', tag, summary: "A user's or a client's grants (?user=id-or-username | ?client=client_id)",
      query: grantsQuerySchema,
      responses: { 200: { description: 'a page of grants', schema: grantSchema, list: true }, 404: { description: 'no such user' } },
      async handle(ctx, { query }: AdminInput<unknown, GrantsQuery>) {
        if ((query.user === undefined) === (query.client === undefined)) throw exactlyOne();
        const ids = query.user !== undefined
          ? await tokenState.grants.ofAccount(await accountIdOf(query.user))
          : await tokenState.grants.ofClient(query.client!);
        const slice = ids.sort().slice(query.offset, query.offset + query.limit);
        const lastUsed = await tokenState.grantUse.lastUsed(slice);
        const names = new Map<string, Promise<string | null>>();
        reply(ctx, 200, { ...page(await Promise.all(slice.map((id) => grantView(id, lastUsed, names))), query), total: ids.length });
      },
    },
    {
      method: 'delete', path: '/grants/:grantId', tag, summary: 'Revoke one grant and every token it covers',
      params: { grantId: pathId },
      responses: { 204: { description: 'revoked' }, 404: { description: 'no such grant' } },
      async handle(ctx, { params: p, actor }) {
        const grant = await provider.Grant.find(p.grantId);
        // revoked even when unreadable: tokens can outlive a grant record that expired
        await revocation.revokeGrant(p.grantId);
        if (!grant) throw notFound('grant');
        await audit.record({ type: 'grant.revoked', actor, subject: grant.accountId ?? null, clientId: grant.clientId ?? null, details: { grant_id: p.grantId } });
        reply(ctx, 204);
      },
    },
    {
      method: 'post', path: '/grants/revoke', tag, summary: "Revoke all of a user's or a client's grants",
      body: revokeGrantsSchema,
      responses: { 200: { description: 'the number of grants revoked; for a client, whether its access tokens (client_credentials ones included) were cut off' }, 404: { description: 'no such user' }, 409: { description: 'the calling client cannot revoke all of itself' } },
      async handle(ctx, { body, actor }: AdminInput<RevokeGrantsBody>) {
        if (body.user !== undefined) {
          const accountId = await accountIdOf(body.user);
          const revoked = await revocation.revokeGrantsOfUser(accountId);
          await audit.record({ type: 'grants.revoked', actor, subject: accountId, details: { revoked_grants: revoked } });
          return reply(ctx, 200, { user: accountId, revoked_grants: revoked });
        }
        const clientId = body.client!;
        // the calling client would cut off its own admin token
        if (clientId === actor) throw new AdminProblem(409, 'Conflict', 'the client whose token makes this call cannot revoke all of its own tokens');
        // Its access tokens issued until now are cut off first (client_credentials
        // JWTs belong to no grant), its secret unchanged; then every grant goes.
        const cutOff = await deps.services.clients.cutOffTokens(clientId);
        const revoked = await revocation.revokeGrantsOfClient(clientId);
        await audit.record({ type: 'grants.revoked', actor, subject: clientId, clientId, details: { revoked_grants: revoked, access_tokens_cut_off: cutOff } });
        reply(ctx, 200, { client: clientId, revoked_grants: revoked, access_tokens_cut_off: cutOff });
      },
    },
  ];
}
