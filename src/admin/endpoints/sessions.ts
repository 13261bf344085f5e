import type { SessionSummary } from '../../tokens/index.ts';
import { iso, notFound, page, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { pathId } from '../schemas/common.ts';
import { endSessionsSchema, sessionSchema, sessionsQuerySchema, type EndSessionsBody, type SessionsQuery } from '../schemas/sessions.ts';

/**
 * A person's sign-in sessions. Ending one destroys it at every instance (the
 * cookie no longer signs in), revokes the grants made in it with every token
 * they cover, and sends logout tokens to its clients that registered a
 * backchannel_logout_uri (src/tokens/sessions.ts).
 */
export function sessionRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { accounts, clients } = deps.services;
  const { sessions } = deps;
  const tag = 'sessions';

  async function accountIdOf(idOrUsername: string): Promise<string> {
    const account = await accounts.findByIdOrUsername(idOrUsername);
    if (!account) throw notFound('user');
    return account.id;
  }

  async function sessionView(session: SessionSummary) {
    return {
      id: session.id,
      account_id: session.accountId,
      device: session.device,
      user_agent: session.userAgent,
      ip: session.ip,
      created_at: iso(session.createdAt),
      last_active_at: iso(session.lastActiveAt),
      clients: await Promise.all(session.clients.map(async (clientId) => ({ client_id: clientId, name: (await clients.find(clientId))?.name ?? null }))),
    };
  }

  return [
    {
      method: 'get', path: '/sessions', tag, summary: "A user's sign-in sessions, most recently used first (?user=id-or-username)",
      query: sessionsQuerySchema,
      responses: { 200: { description: 'a page of sessions', schema: sessionSchema, list: true }, 404: { description: 'no such user' } },
      async handle(ctx, { query }: AdminInput<unknown, SessionsQuery>) {
        const all = await sessions.ofAccount(await accountIdOf(query.user));
        const slice = all.slice(query.offset, query.offset + query.limit);
        reply(ctx, 200, { ...page(await Promise.all(slice.map(sessionView)), query), total: all.length });
      },
    },
    {
      method: 'delete', path: '/sessions/:sessionId', tag, summary: 'End one session: its grants are revoked and its clients get logout tokens',
      params: { sessionId: pathId },
      responses: { 204: { description: 'ended' }, 404: { description: 'no such session' } },
      async handle(ctx, { params: p, actor }) {
        if (!await sessions.end(p.sessionId, { actor, reason: 'admin' })) throw notFound('session');
        reply(ctx, 204);
      },
    },
    {
      method: 'post', path: '/sessions/end', tag, summary: "End all of a user's sessions",
      body: endSessionsSchema,
      responses: { 200: { description: 'the number of sessions ended' }, 404: { description: 'no such user' } },
      async handle(ctx, { body, actor }: AdminInput<EndSessionsBody>) {
        const accountId = await accountIdOf(body.user);
        const ended = await sessions.endAllOfAccount(accountId, { actor, reason: 'admin' });
        reply(ctx, 200, { user: accountId, ended_sessions: ended });
      },
    },
  ];
}
