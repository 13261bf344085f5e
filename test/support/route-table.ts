// Every route Tessera serves, read from the running server itself: the
// layers of Tessera's Koa routers (src/server/app.ts) and the provider's route
// table (src/provider/routes.ts). A route added anywhere is walked by the
// tests that use this (test/integration/route-walk.test.ts) without a change
// to them.
import type Router from '@koa/router';
import { ADMIN_PREFIX } from '../../src/admin/index.ts';
import { providerRoutes } from '../../src/provider/index.ts';
import type { RunningServer } from '../../src/server/index.ts';

/** Who a route answers: the admin API (JSON), a page (HTML), health and assets, the provider's protocol endpoints, or dynamic registration (JSON, src/registration). */
export type RouteKind = 'admin' | 'page' | 'operations' | 'provider' | 'registration';

export interface RouteEntry {
  /** as registered, `:name` for a parameter */
  readonly path: string;
  /** the path with every parameter given a harmless value */
  readonly samplePath: string;
  /** the methods it takes (GET brings HEAD) */
  readonly methods: readonly string[];
  readonly kind: RouteKind;
}

const OPERATIONS = new Set(['/healthz', '/readyz', '/favicon.ico', '/assets/passkeys.js']);

const sampleOf = (path: string) => path.replace(/:([A-Za-z]+)/g, (_, name: string) => `sample-${name.toLowerCase()}`);

function kindOf(path: string): RouteKind {
  if (path.startsWith(ADMIN_PREFIX)) return 'admin';
  if (OPERATIONS.has(path)) return 'operations';
  if (path === '/reg' || path.startsWith('/reg/')) return 'registration';
  return 'page';
}

/** The routers behind the app: @koa/router puts each router on the middleware its routes() returns. */
function routersOf(server: Pick<RunningServer, 'app'>): Router[] {
  return (server.app.middleware as Array<{ router?: Router }>).flatMap((middleware) => (middleware.router ? [middleware.router] : []));
}

export function allRoutes(server: Pick<RunningServer, 'app' | 'provider'>): RouteEntry[] {
  const byPath = new Map<string, { methods: Set<string>; kind: RouteKind }>();
  const add = (path: string, methods: Iterable<string>, kind: RouteKind) => {
    const entry = byPath.get(path) ?? { methods: new Set<string>(), kind };
    for (const method of methods) entry.methods.add(method);
    byPath.set(path, entry);
  };
  for (const router of routersOf(server)) {
    for (const layer of router.stack) {
      const path = String(layer.path);
      // router.use() layers have no methods; the admin API's catch-all (its own 404/405) is no route
      if (!layer.methods.length || path.endsWith('{/*rest}')) continue;
      add(path, layer.methods, kindOf(path));
    }
  }
  for (const route of providerRoutes(server.provider)) add(route.path, route.methods, 'provider');
  return [...byPath].map(([path, { methods, kind }]) => ({ path, samplePath: sampleOf(path), methods: [...methods], kind }));
}
