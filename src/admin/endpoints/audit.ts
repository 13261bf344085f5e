import { AdminProblem, iso, page, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { auditEventSchema, auditQuerySchema } from '../schemas/audit.ts';
import type { AuditEvent } from '../../audit/index.ts';

interface AuditQuery { subject?: string; actor?: string; type?: string; since?: string; limit: number; offset: number }

const eventView = (event: AuditEvent) => ({
  id: event.id,
  at: iso(event.at),
  type: event.type,
  actor: event.actor,
  subject: event.subject,
  client_id: event.clientId,
  details: event.details,
});

export function auditRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { accounts, audit } = deps.services;

  return [{
    method: 'get', path: '/audit', tag: 'audit', summary: 'Audit events, newest first',
    query: auditQuerySchema,
    responses: { 200: { description: 'a page of events', schema: auditEventSchema, list: true } },
    async handle(ctx, { query }: AdminInput<unknown, AuditQuery>) {
      let since: Date | undefined;
      if (query.since !== undefined) {
        since = new Date(query.since);
        if (Number.isNaN(since.getTime())) throw new AdminProblem(400, 'Bad Request', 'since is not a valid date', [{ field: 'since', message: 'must be an ISO-8601 date or date-time' }]);
      }
      // user events are recorded under the account id; operators think in usernames
      const subjects = query.subject === undefined ? undefined : [query.subject];
      if (query.subject !== undefined) {
        const account = await accounts.findByUsername(query.subject);
        if (account) subjects!.push(account.id);
      }
      const events = await audit.list({ subjects, actor: query.actor, type: query.type, since, limit: query.limit, offset: query.offset });
      reply(ctx, 200, page(events.map(eventView), query));
    },
  }];
}
