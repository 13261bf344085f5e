import Koa from 'koa';
import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { KeyMaterial } from '../keys/index.ts';
import type { Revocation, SessionDirectory, TokenState } from '../tokens/index.ts';
import type { Logger } from '../observability/index.ts';
import type { CredentialVerifier } from '../accounts/index.ts';
import type { ResourceServerRepository } from '../clients/index.ts';
import type { MfaService, PasskeyService } from '../mfa/index.ts';
import { createInteractionRouter, createPasskeySignInRouter } from '../interactions/index.ts';
import { createAccountRouter } from '../account/index.ts';
import { ADMIN_PREFIX, createAdminRouter, type AdminServices } from '../admin/index.ts';
import { createOperationsRouter } from '../observability/health.ts';
import { createRegistrationRouter, isRegistrationPath } from '../registration/index.ts';
import { createAssetRouter } from './assets.ts';
import { methodNotAllowed, type CertificateOf, type NodeHandler } from '../http/index.ts';
import { adoptRequestId, errorBoundary } from './middleware.ts';

export interface TesseraAppDependencies {
  config: Config;
  db: Database;
  keys: KeyMaterial;
  tokenState: TokenState;
  logger: Logger;
  provider: Provider;
  services: AdminServices & { verifyCredentials: CredentialVerifier; resources: ResourceServerRepository; mfa: MfaService; passkeys: PasskeyService };
  revocation: Revocation;
  sessions: SessionDirectory;
  /** the provider's own request handler, for paths under Tessera's segments that no route matches */
  providerCallback: NodeHandler;
  /** a request's client certificate (mTLS); absent: mTLS off */
  certificateOf?: CertificateOf;
  /** true once shutdown has begun: /readyz answers 503 */
  draining?: () => boolean;
}

/**
 * Tessera's own routes in a Koa app: health, the sign-in and consent pages,
 * the person's own page (/account), the admin API. The front door sends a path here when one of `routers`
 * claims its first segment; a path under such a segment that no route
 * matches goes on to the provider.
 */
export function createTesseraApp(deps: TesseraAppDependencies): { app: Koa; routers: Router[] } {
  const { config, logger, provider, services } = deps;
  const app = new Koa();
  app.proxy = config.proxy !== false; // reads X-Forwarded-* as believeTrustedProxies (src/http) left them
  app.silent = true; // errors are logged by errorBoundary, without request bodies
  // signs Tessera's own cookies (the /account sign-in state) and reads none of the provider's
  app.keys = [...deps.keys.cookieKeys];

  app.use(adoptRequestId());
  // the admin API answers JSON (problem+json) even to a browser
  app.use(errorBoundary(logger, { jsonOnly: (path) => path.startsWith(ADMIN_PREFIX) || isRegistrationPath(path) }));

  const operations = createOperationsRouter({ db: deps.db, tokenState: deps.tokenState, draining: deps.draining });
  const interactions = createInteractionRouter({
    provider,
    accounts: { verifyCredentials: services.verifyCredentials },
    mfa: services.mfa,
    csrfSecret: deps.keys.csrfSecret,
    resourceName: async (identifier) => (await services.resources.find(identifier))?.name,
    audit: services.audit,
    passkeysAvailable: services.passkeys.available,
  });
  const passkeySignIn = createPasskeySignInRouter({ provider, passkeys: services.passkeys, mfa: services.mfa, csrfSecret: deps.keys.csrfSecret, audit: services.audit });
  const assets = createAssetRouter();
  const account = createAccountRouter({
    issuer: config.issuer,
    provider,
    accounts: services.accounts,
    hasher: services.hasher,
    verifyCredentials: services.verifyCredentials,
    revocation: deps.revocation,
    tokenState: deps.tokenState,
    sessions: deps.sessions,
    passwordResets: services.passwordResets,
    audit: services.audit,
    csrfSecret: deps.keys.csrfSecret,
    mfa: services.mfa,
    passkeys: services.passkeys,
  });
  const admin = createAdminRouter({ config, provider, keys: deps.keys, tokenState: deps.tokenState, services, revocation: deps.revocation, sessions: deps.sessions, logger, certificateOf: deps.certificateOf });

  app.use(operations.routes());
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());
  app.use(passkeySignIn.routes());
  app.use(assets.routes());
  app.use(account.routes());
  app.use(account.allowedMethods());
  app.use(admin.routes());
  app.use(admin.allowedMethods());
  // dynamic client registration (RFC 7591/7592): absent, not merely refusing, while off
  const registration = config.dynamicRegistration.mode === 'off' ? undefined : createRegistrationRouter({
    issuer: config.issuer,
    policy: config.dynamicRegistration,
    maxBodyBytes: config.http.maxBodyBytes,
    provider,
    clients: services.clients,
    resources: services.resources,
    initialAccessTokens: services.initialAccessTokens,
    revocation: deps.revocation,
    audit: services.audit,
  });
  if (registration) app.use(registration.routes());
  const routers = [operations, interactions, passkeySignIn, assets, account, admin, ...(registration ? [registration] : [])];
  // a path one of Tessera's routes has, with a method none of them takes: 405, not the provider's 404
  app.use(async (ctx, next) => {
    const allowed = allowedMethodsOf(routers, ctx.path, ctx.method);
    if (!allowed.size) return next();
    ctx.respond = false;
    methodNotAllowed(ctx.res, allowed, ctx.path.toLowerCase().startsWith(ADMIN_PREFIX) ? 'problem' : isRegistrationPath(ctx.path) ? 'oauth' : 'page', ctx.state.requestId);
  });
  app.use(async (ctx) => {
    ctx.respond = false; // the provider writes the response itself
    await deps.providerCallback(ctx.req, ctx.res);
  });
  return { app, routers };
}

/**
 * The methods Tessera's routers take at `path` when none of them takes
 * `method` there (empty when one does, or when no route has the path).
 */
export function allowedMethodsOf(routers: Router[], path: string, method: string): Set<string> {
  const allowed = new Set<string>();
  for (const router of routers) {
    const matched = router.match(path, method);
    if (matched.route) return new Set();
    for (const layer of matched.path) {
      // catch-alls (the admin API's own 404/405) do not make a path a route
      if (String(layer.path).endsWith('{/*rest}')) continue;
      for (const m of layer.methods) allowed.add(m);
    }
  }
  return allowed;
}
