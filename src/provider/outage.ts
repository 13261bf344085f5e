import type { ProviderStep } from './pipeline.ts';
import { isStoreUnavailable, requestIdOf, RETRY_AFTER_SECONDS, unavailableOAuthError, UNAVAILABLE_MESSAGE } from '../http/index.ts';
import { errorPage } from '../../views/error.ts';

/**
 * oidc-provider turns every failure inside its routes into a 500 server_error.
 * When the cause is a store outage, the honest answer is 503 + Retry-After.
 */
export function answerStoreOutages(): ProviderStep {
  return {
    name: 'a store outage is a 503 with Retry-After, not a 500',
    listen: (provider) => provider.on('server_error', (ctx, error) => {
      if (ctx && isStoreUnavailable(error)) ctx.state.storeUnavailable = true;
    }),
    middleware: async (ctx, next) => {
      await next();
      if (!ctx.state.storeUnavailable) return;
      ctx.status = 503;
      ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      if (ctx.response.is('html')) {
        ctx.body = errorPage({ title: 'Temporarily unavailable', message: UNAVAILABLE_MESSAGE, requestId: requestIdOf(ctx) ?? '' });
      } else {
        ctx.body = unavailableOAuthError();
      }
    },
  };
}
