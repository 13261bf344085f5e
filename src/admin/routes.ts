import { ADMIN_API_PATH } from '../config/index.ts';
import Router from '@koa/router';
import type { Context } from 'koa';
import { requireAdminToken } from './guard.ts';
import { adminRateLimit } from './rate-limit.ts';
import { ADMIN_SCOPE, allowListOf } from '../clients/index.ts';
import { problem } from './problem.ts';
import { AdminProblem, type AdminRoute, type AdminRouterDeps } from './define.ts';
import { adminErrors } from './errors.ts';
import { jsonBodyReader } from './body.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { compileBody, compileQuery, type Validator } from './validation.ts';
import { object } from './schemas/common.ts';
import { userRoutes } from './endpoints/users.ts';
import { clientRoutes } from './endpoints/clients.ts';
import { resourceRoutes } from './endpoints/resources.ts';
import { grantRoutes } from './endpoints/grants.ts';
import { tokenRoutes } from './endpoints/tokens.ts';
import { keyRoutes } from './endpoints/keys.ts';
import { auditRoutes } from './endpoints/audit.ts';
import { webhookRoutes } from './endpoints/webhooks.ts';
import { passwordResetRoutes } from './endpoints/password-resets.ts';
import { sessionRoutes } from './endpoints/sessions.ts';
import { registrationTokenRoutes } from './endpoints/registration-tokens.ts';

export type { AdminRouterDeps } from './define.ts';

/** The admin API's path prefix (from the configuration module, which the CLI shares). */
export const ADMIN_PREFIX = ADMIN_API_PATH;

/** Validates params, query and body against the route's schemas, then runs it. */
function endpoint(route: AdminRoute, readJsonBody: (ctx: Context) => Promise<unknown>) {
  const checkParams = route.params && compileBody(object(route.params, Object.keys(route.params)));
  // no query schema: no query parameters at all (unknown ones are refused)
  const checkQuery = compileQuery(route.query ?? object({}));
  const checkBody: Validator | undefined = route.body && compileBody(route.body);

  return async (ctx: Context) => {
    // a path parameter that cannot be an identifier names nothing
    if (checkParams && !checkParams({ ...ctx.params }).ok) throw new AdminProblem(404, 'Not Found', 'no such resource');
    const query = checkQuery({ ...ctx.query });
    if (!query.ok) throw new AdminProblem(400, 'Bad Request', 'the query parameters are invalid', query.errors);
    let body: unknown;
    if (checkBody) {
      const checked = checkBody(await readJsonBody(ctx));
      if (!checked.ok) throw new AdminProblem(400, 'Bad Request', 'the request body is invalid', checked.errors);
      body = checked.value;
    }
    await route.handle(ctx, { body, query: query.value, params: ctx.params, actor: ctx.state.admin.clientId });
  };
}

/**
 * /admin/v1: the OpenAPI document is public; everything else needs an admin
 * access token (guard.ts) and answers JSON, errors as problem+json.
 */
export function createAdminRouter(deps: AdminRouterDeps): Router {
  const routes: AdminRoute[] = [
    ...userRoutes(deps),
    ...clientRoutes(deps),
    ...resourceRoutes(deps),
    ...grantRoutes(deps),
    ...sessionRoutes(deps),
    ...tokenRoutes(deps),
    ...keyRoutes(deps),
    ...auditRoutes(deps),
    ...webhookRoutes(deps),
    ...passwordResetRoutes(deps),
    ...registrationTokenRoutes(deps),
  ];
  const openapi = buildOpenApiDocument(routes, { issuer: deps.config.issuer, prefix: ADMIN_PREFIX });

  const router = new Router({ prefix: ADMIN_PREFIX });
  router.use(adminErrors(deps.logger));
  // the admin API answers JSON only: a client that accepts none of it is told so before anything runs
  router.use(async (ctx, next) => {
    if (!ctx.accepts('application/json', 'application/problem+json')) {
      return problem(ctx, 406, 'Not Acceptable', 'the admin API answers application/json (errors application/problem+json)');
    }
    await next();
  });
  // registered before the guard: router middleware runs in registration order
  router.get('/openapi.json', (ctx) => { ctx.body = openapi; });
  router.use(requireAdminToken({
    issuer: deps.config.issuer,
    keys: deps.keys,
    tokenState: deps.tokenState,
    certificateOf: deps.certificateOf,
    clientMayAdminister: async (clientId, issuedAt) => {
      const metadata = await deps.services.clients.findProviderMetadata(clientId);
      return allowListOf(metadata).includes(ADMIN_SCOPE) && typeof issuedAt === 'number' && issuedAt >= Number(metadata?.tokens_not_before ?? 0);
    },
  }));
  router.use(adminRateLimit({ rule: deps.config.rateLimits.adminPerClient, counters: deps.tokenState.rateLimitCounters, onStoreError: (error) => deps.logger.warn({ err: error.message }, 'rate limits: shared counters unreachable; request let through') }));
  const readJsonBody = jsonBodyReader(deps.config.http);
  for (const route of routes) router[route.method](route.path, endpoint(route, readJsonBody));

  // Anything else under the prefix is the admin API's to answer (as a
  // problem), not the provider's.
  router.all('{/*rest}', (ctx) => {
    const allowed = new Set(router.match(ctx.path, ctx.method).path.flatMap((layer) => (String(layer.path).endsWith('{/*rest}') ? [] : layer.methods)));
    if (allowed.size) {
      ctx.set('Allow', [...allowed].join(', '));
      return problem(ctx, 405, 'Method Not Allowed', `allowed: ${[...allowed].join(', ')}`);
    }
    problem(ctx, 404, 'Not Found', 'no such admin endpoint');
  });
  return router;
}
