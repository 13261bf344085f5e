import { publicJwks } from '../../keys/index.ts';
import { reply, type AdminRoute, type AdminRouterDeps } from '../define.ts';

/** The signing keys in use, described (never their private parts). Rotation is not offered here yet. */
export function keyRoutes(deps: AdminRouterDeps): AdminRoute[] {
  return [{
    method: 'get', path: '/keys', tag: 'keys', summary: 'The signing keys: kid, kty, alg, use',
    responses: { 200: { description: 'the keys, newest first per algorithm' } },
    async handle(ctx) {
      const items = publicJwks(deps.keys).keys.map(({ kid, kty, alg, use }) => ({ kid, kty, alg, use }));
      reply(ctx, 200, { items });
    },
  }];
}
