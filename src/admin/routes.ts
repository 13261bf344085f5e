import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { KeyMaterial } from '../keys/index.ts';
import type { Revocation, TokenState } from '../tokens/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Services } from '../server/app.ts';
import { requireAdminToken } from './guard.ts';

export interface AdminRouterDeps {
  config: Config;
  provider: Provider;
  keys: KeyMaterial;
  tokenState: TokenState;
  services: Services;
  revocation: Revocation;
  logger: Logger;
}

export function createAdminRouter(deps: AdminRouterDeps): Router {
  const router = new Router({ prefix: '/admin/v1' });
  router.use(requireAdminToken({ issuer: deps.config.issuer, keys: deps.keys, tokenState: deps.tokenState }));
  return router;
}
