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
