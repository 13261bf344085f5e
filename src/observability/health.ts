import Router from '@koa/router';
import type { Database } from '../db/index.ts';
import type { TokenState } from '../tokens/index.ts';
import { RETRY_AFTER_SECONDS } from '../http/index.ts';

/**
 * /healthz: the process answers. /readyz: its stores answer too, and it is not
 * shutting down (`draining`, src/server/shutdown.ts: 503 from the signal on,
 * so load balancers stop sending before the listener closes).
 */
export function createOperationsRouter(deps: { db: Database; tokenState: TokenState; draining?: () => boolean }): Router {
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
    if (deps.draining?.()) {
      ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      ctx.status = 503;
      ctx.body = { status: 'shutting_down' };
      return;
    }
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
