import Router from '@koa/router';
import type { Database } from '../db/index.ts';
import type { TokenState } from '../tokens/index.ts';
import { RETRY_AFTER_SECONDS } from '../http/index.ts';

/** /healthz: the process answers. /readyz: its stores answer too. */
export function createOperationsRouter(deps: { db: Database; tokenState: TokenState }): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  // browsers ask for it on every first page view; there is no icon to give
  router.get('/favicon.ico', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.status = 204;
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const check = async (ping: () => Promise<unknown>) => {
      try {
        await Promise.race([ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
        return 'ok';
      } catch {
        return 'unavailable';
      }
    };
    const [database, tokenState] = await Promise.all([
      check(() => deps.db.knex.raw('select 1')),
      check(() => deps.tokenState.ping()),
    ]);
    const ready = database === 'ok' && tokenState === 'ok';
    if (!ready) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'unavailable', database, tokenState };
  });
  return router;
}
