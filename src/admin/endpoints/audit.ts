import { Readable } from 'node:stream';
import { AdminProblem, iso, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { auditEventSchema, auditExportQuerySchema, auditPageSchema, auditQuerySchema } from '../schemas/audit.ts';
import { AUDIT_POSITION, type AuditEvent, type AuditFilter } from '../../audit/index.ts';

interface FilterQuery { subject?: string; actor?: string; client?: string; type?: string; since?: string; until?: string }
interface AuditQuery extends FilterQuery { limit: number; offset: number; cursor?: string }

/** Rows per read while exporting: the export streams, it never holds the whole log. */
const EXPORT_PAGE = 500;

const eventView = (event: AuditEvent) => ({
  id: event.id,
  at: iso(event.at),
  type: event.type,
  actor: event.actor,
  subject: event.subject,
  client_id: event.clientId,
  ip: event.ip,
  user_agent: event.userAgent,
  request_id: event.requestId,
  details: event.details,
});

const badQuery = (field: string, message: string) =>
  new AdminProblem(400, 'Bad Request', 'the query parameters are invalid', [{ field, message }]);

function instant(field: 'since' | 'until', value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw badQuery(field, 'must be an ISO-8601 date or date-time');
  return date;
}

/*
 * The cursor is opaque to callers (they pass back next_cursor as it came): the
 * position (time and id) of the last event of the page, which the next page
 * starts after. Events written while someone pages through never shift the
 * pages still to come: each event is seen once.
 */
const CURSOR_PREFIX = 'a1:';
const cursorOf = (position: string) => Buffer.from(`${CURSOR_PREFIX}${position}`).toString('base64url');
function positionOfCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString();
  const position = text.startsWith(CURSOR_PREFIX) ? text.slice(CURSOR_PREFIX.length) : '';
  if (!AUDIT_POSITION.test(position)) throw badQuery('cursor', 'is not a cursor this API gave');
  return position;
}

export function auditRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { accounts, audit } = deps.services;

  async function filterOf(query: FilterQuery): Promise<Omit<AuditFilter, 'limit'>> {
    const since = instant('since', query.since);
    const until = instant('until', query.until);
    // user events are recorded under the account id; operators think in usernames
    let subjects: string[] | undefined;
    if (query.subject !== undefined) {
      subjects = [query.subject];
      const account = await accounts.findByUsername(query.subject);
      if (account) subjects.push(account.id);
    }
    const types = query.type?.split(',');
    return { subjects, actor: query.actor, clientId: query.client, types, since, until };
  }

  return [{
    method: 'get', path: '/audit', tag: 'audit', summary: 'Audit events, newest first, filtered; a page at a time (cursor)',
    query: auditQuerySchema,
    responses: { 200: { description: 'a page of events; next_cursor when there are more', schema: auditPageSchema } },
    async handle(ctx, { query }: AdminInput<unknown, AuditQuery>) {
      if (query.cursor !== undefined && query.offset) throw badQuery('offset', 'cannot be combined with cursor');
      const filter = await filterOf(query);
      const after = query.cursor === undefined ? undefined : positionOfCursor(query.cursor);
      const { events, next } = await audit.page({ ...filter, after, limit: query.limit, offset: query.offset });
      reply(ctx, 200, {
        items: events.map(eventView),
        limit: query.limit,
        offset: query.offset,
        ...(next ? { next_cursor: cursorOf(next) } : {}),
      });
    },
  }, {
    method: 'get', path: '/audit/export', tag: 'audit', summary: 'Every audit event the filters match, newest first, as JSON lines (streamed)',
    query: auditExportQuerySchema,
    responses: { 200: { description: 'one AuditEvent per line', schema: auditEventSchema, contentType: 'application/x-ndjson' } },
    async handle(ctx, { query }: AdminInput<unknown, FilterQuery>) {
      const filter = await filterOf(query);
      // the first page is read before answering: a database that is down is a 503, not a cut stream
      const first = await audit.page({ ...filter, limit: EXPORT_PAGE });
      async function* lines() {
        let page = first;
        for (;;) {
          if (page.events.length) yield `${page.events.map((event) => JSON.stringify(eventView(event))).join('\n')}\n`;
          if (!page.next) return;
          page = await audit.page({ ...filter, after: page.next, limit: EXPORT_PAGE });
        }
      }
      ctx.status = 200;
      ctx.type = 'application/x-ndjson';
      ctx.set('Content-Disposition', 'attachment; filename="tessera-audit.ndjson"');
      ctx.body = Readable.from(lines());
    },
  }];
}
