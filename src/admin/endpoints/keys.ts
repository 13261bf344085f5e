import { reply, type AdminRoute, type AdminRouterDeps } from '../define.ts';

/**
 * The signing keys this instance loaded, described (never their private
 * parts), with their status. Rotation works on KEYS_DIR (`tessera keys
 * rotate`), not here: every instance must load the same files.
 */
export function keyRoutes(deps: AdminRouterDeps): AdminRoute[] {
  return [{
    method: 'get', path: '/keys', tag: 'keys', summary: 'The signing keys: kid, kty, alg, use, status (next, current, previous)',
    responses: { 200: { description: 'the keys: current first, then next (published, not signing), then previous (accepted until retire_after)' } },
    async handle(ctx) {
      reply(ctx, 200, { items: deps.keys.signingKeyList });
    },
  }];
}
