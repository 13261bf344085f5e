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
 * ASCII case-insensitively and folds no other character into ASCII, so an
 * ASCII case-insensitive comparison covers every path it routes there. It
 * runs on every request and allocates nothing; a route with a character
 * beyond ASCII (none of the provider's defaults) admits every path.
 */
export function pathMayBe(paths: { exact?: readonly string[]; under?: readonly string[] }): (ctx: { path: string }) => boolean {
  const normal = (p: string) => p.replace(/\/+$/, '').toLowerCase();
  const exact = (paths.exact ?? []).map(normal);
  const under = (paths.under ?? []).map(normal);
  if ([...exact, ...under].some((p) => /[^\x00-\x7f]/.test(p))) return () => true;
  return ({ path }) => {
    for (const p of exact) {
      const length = path.length === p.length + 1 && path.charCodeAt(p.length) === SLASH ? p.length : path.length;
      if (length === p.length && startsWithIgnoringAsciiCase(path, p)) return true;
    }
    for (const p of under) {
      if (startsWithIgnoringAsciiCase(path, p)) return true;
    }
    return false;
  };
}

const SLASH = 0x2f;

/** `value` begins with `prefix` (lower-case ASCII), ASCII letters compared without case. */
function startsWithIgnoringAsciiCase(value: string, prefix: string): boolean {
  if (value.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i += 1) {
    let c = value.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== prefix.charCodeAt(i)) return false;
  }
  return true;
}
