import Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { KeyMaterial } from '../keys/index.ts';
import type { TokenState } from '../tokens/index.ts';
import type { Logger } from '../observability/index.ts';
import { createAccountRepository, createPasswordHasher, createCredentialVerifier, type AttemptGuard } from '../accounts/index.ts';
import { createClientRepository, createResourceServerRepository, sqlClientChanges, singleProcessChanges, type ClientChangeLog } from '../clients/index.ts';
import { createAuditLog } from '../audit/index.ts';
import { createProvider, jwtEndpointsFastPath } from '../provider/index.ts';
import { createRevocation, type Revocation } from '../tokens/index.ts';
import { createInteractionRouter } from '../interactions/routes.ts';
import { createAdminRouter } from '../admin/index.ts';
import { createOperationsRouter } from '../observability/health.ts';
import { adoptRequestId, errorBoundary } from './middleware.ts';
import { claimedByRouters, frontDoor } from './front-door.ts';
import { believeTrustedProxies, type NodeHandler } from '../http/index.ts';

export interface AppDependencies {
  config: Config;
  db: Database;
  tokenState: TokenState;
  keys: KeyMaterial;
  logger: Logger;
  attemptGuard?: AttemptGuard;
}

export type Services = ReturnType<typeof createServices>;

/**
 * How client changes made by other processes are learnt: none can be with
 * embedded PGlite (one process owns it); Redis announces them when the token
 * state is there; otherwise each lookup reads the row's generation.
 */
function clientChangesOf(deps: AppDependencies): ClientChangeLog {
  if (deps.db.kind === 'pglite') return singleProcessChanges;
  return deps.tokenState.clientChanges ?? sqlClientChanges(deps.db.knex);
}

/** The repositories and domain services, built from their explicit dependencies. */
export function createServices(deps: AppDependencies) {
  const accounts = createAccountRepository(deps.db.knex);
  const clients = createClientRepository(deps.db.knex, { changes: clientChangesOf(deps) });
  const resources = createResourceServerRepository(deps.db.knex, { accessTokenTtl: deps.config.ttl.accessToken });
  const hasher = createPasswordHasher(deps.config.passwordHashing);
  const verifyCredentials = createCredentialVerifier({ accounts, hasher, guard: deps.attemptGuard });
  const audit = createAuditLog(deps.db.knex);
  return { accounts, clients, resources, hasher, verifyCredentials, audit };
}

/**
 * The whole HTTP surface (`handler`, for http.createServer): Tessera's own
 * routes in a Koa app, oidc-provider (itself a Koa app) for the protocol
 * endpoints, the front door choosing between them.
 */
export function createApp(deps: AppDependencies): { app: Koa; handler: NodeHandler; provider: Provider; services: Services; revocation: Revocation } {
  const { config, logger } = deps;
  const services = createServices(deps);
  const { provider, jwtAnswers } = createProvider({ ...deps, ...services });
  const revocation = createRevocation({ provider, tokenState: deps.tokenState });

  const app = new Koa();
  app.proxy = config.proxy !== false; // reads X-Forwarded-* as believeTrustedProxies left them
  app.silent = true; // errors are logged by errorBoundary, without request bodies

  app.use(adoptRequestId());
  app.use(errorBoundary(logger));

  const operations = createOperationsRouter({ db: deps.db, tokenState: deps.tokenState });
  const interactions = createInteractionRouter({
    provider,
    accounts: { verifyCredentials: services.verifyCredentials },
    csrfSecret: deps.keys.csrfSecret,
    resourceName: async (identifier) => (await services.resources.find(identifier))?.name,
  });
  const admin = createAdminRouter({ config, provider, keys: deps.keys, tokenState: deps.tokenState, services, revocation, logger });

  const providerCallback = provider.callback();
  const toProvider = async (ctx: Koa.Context) => {
    ctx.respond = false; // the provider writes the response itself
    await providerCallback(ctx.req, ctx.res);
  };

  app.use(operations.routes());
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());
  app.use(admin.routes());
  app.use(admin.allowedMethods());
  app.use(toProvider); // a path under a claimed segment that no route matched

  // the client's address, protocol and host, resolved once for both apps
  const handler = believeTrustedProxies(config.proxy, frontDoor({
    logger,
    https: config.issuer.startsWith('https://'),
    isTesseraPath: claimedByRouters([operations, interactions, admin]),
    tessera: app.callback(),
    provider: jwtEndpointsFastPath({ provider, answers: jwtAnswers, next: providerCallback }),
  }));
  return { app, handler, provider, services, revocation };
}
