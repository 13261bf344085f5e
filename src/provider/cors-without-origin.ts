import type { ProviderStep } from './pipeline.ts';

/**
 * oidc-provider's CORS middleware answers `Access-Control-Allow-Origin: *`
 * to a request without Origin (lib/shared/cors.js). No browser makes a
 * cross-origin request without one, so the header grants nothing there; it is
 * removed so that a CORS header on an answer always means a decision about
 * the Origin that was asked for (which origins: the provider's CORS settings).
 */
export function noCorsHeadersWithoutOrigin(): ProviderStep {
  return {
    name: 'no CORS headers on an answer to a request without Origin',
    middleware: async (ctx, next) => {
      await next();
      if (ctx.get('Origin')) return;
      for (const name of Object.keys(ctx.response.headers)) {
        if (name.toLowerCase().startsWith('access-control-')) ctx.remove(name);
      }
    },
  };
}
