import type { default as Provider, KoaContextWithOIDC } from 'oidc-provider';

/** A provider middleware: what oidc-provider's `provider.use` takes. */
export type ProviderMiddleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

/**
 * One step of Tessera's work around oidc-provider's own: a middleware and
 * the provider events it listens to (an event is how a step learns what the
 * provider decided inside a route, e.g. that it refused a JWT).
 */
export interface ProviderStep {
  /** what the step does, as ARCHITECTURE.md lists it */
  readonly name: string;
  readonly listen?: (provider: Provider) => void;
  readonly middleware: ProviderMiddleware;
}

/**
 * Installs the steps in order. The first step is the outermost: its code
 * after `await next()` runs last, on the answer every later step and the
 * provider gave. That is the one place the order is decided.
 */
export function installPipeline(provider: Provider, steps: readonly ProviderStep[]): void {
  for (const step of steps) step.listen?.(provider);
  for (const step of steps) provider.use(step.middleware as Parameters<Provider['use']>[0]);
}

/**
 * The step, run only where `mayServe` says it may act; everywhere else the
 * request goes on to the next step at once. A step that waits for the
 * provider's answer costs an await frame on every request it wraps (about
 * 0.2 µs, bench/lib/pipeline-cost.js), and the hot paths (client_credentials
 * at /token, introspection) pass through all of them. `mayServe` must be
 * true for every request the step could act on; it may be true for more.
 */
export function onlyWhere(mayServe: (ctx: KoaContextWithOIDC) => boolean, step: ProviderStep): ProviderStep {
  const { middleware } = step;
  return { ...step, middleware: (ctx, next) => (mayServe(ctx) ? middleware(ctx, next) : next()) };
}

/**
 * Whether a request's path may be one the provider routes to `exact` (one
 * trailing slash allowed) or to a route under one of `under` (e.g. /device,
 * /device/auth, /device/:uid). The provider's router matches the raw path
 * ASCII case-insensitively and folds no other character into ASCII, so a
 * lower-cased comparison covers every path it routes there.
 */
export function pathMayBe(paths: { exact?: readonly string[]; under?: readonly string[] }): (ctx: { path: string }) => boolean {
  const normal = (p: string) => p.replace(/\/+$/, '').toLowerCase();
  const exact = (paths.exact ?? []).map(normal);
  const under = (paths.under ?? []).map(normal);
  return ({ path }) => {
    for (const p of exact) {
      if ((path.length === p.length || path.length === p.length + 1) && normal(path) === p) return true;
    }
    for (const p of under) {
      if (path.length >= p.length && path.slice(0, p.length).toLowerCase() === p) return true;
    }
    return false;
  };
}
