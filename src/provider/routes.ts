import type Provider from 'oidc-provider';
import { methodNotAllowed, type NodeHandler } from '../http/index.ts';

/** One of the provider's routes: its path (as oidc-provider matches it, `:uid` a segment) and methods. */
export interface ProviderRoute {
  readonly name: string;
  readonly path: string;
  readonly methods: readonly string[];
}

/*
 * The routes oidc-provider 9 registers (lib/helpers/initialize_app.js), by
 * route name, with the methods it registers for each. GET brings HEAD, as in
 * its router. OPTIONS is there where it answers CORS preflights.
 * `enableHttpPostMethods` is off (Tessera does not set it): /auth and
 * /session/end take GET only. A name the provider did not register (a feature
 * that is off) is left out by routesOf below, asking provider.pathFor.
 */
const KNOWN: ReadonlyArray<{ name: string; methods: readonly string[]; suffix?: string; path?: string }> = [
  { name: 'authorization', methods: ['GET', 'HEAD'] },
  { name: 'authorization', suffix: '/:uid', methods: ['GET', 'HEAD'] }, // resume
  { name: 'userinfo', methods: ['GET', 'HEAD', 'POST', 'OPTIONS'] },
  { name: 'token', methods: ['POST', 'OPTIONS'] },
  { name: 'jwks', methods: ['GET', 'HEAD', 'OPTIONS'] },
  { name: 'discovery', path: '/.well-known/oauth-authorization-server', methods: ['GET', 'HEAD', 'OPTIONS'] },
  { name: 'discovery', path: '/.well-known/openid-configuration', methods: ['GET', 'HEAD', 'OPTIONS'] },
  { name: 'registration', methods: ['POST'] },
  { name: 'revocation', methods: ['POST', 'OPTIONS'] },
  { name: 'introspection', methods: ['POST', 'OPTIONS'] },
  { name: 'end_session_confirm', methods: ['POST'] },
  { name: 'end_session', methods: ['GET', 'HEAD'] },
  { name: 'end_session_success', methods: ['GET', 'HEAD'] },
  { name: 'device_authorization', methods: ['POST', 'OPTIONS'] },
  { name: 'code_verification', methods: ['GET', 'HEAD', 'POST'] },
  { name: 'code_verification', suffix: '/:uid', methods: ['GET', 'HEAD'] },
  { name: 'pushed_authorization_request', methods: ['POST', 'OPTIONS'] },
  { name: 'backchannel_authentication', methods: ['POST'] },
];

/** The provider's routes as this provider instance registered them (its configured paths, its features). */
export function providerRoutes(provider: Provider): ProviderRoute[] {
  const routes: ProviderRoute[] = [];
  for (const known of KNOWN) {
    let base: string;
    try {
      base = known.path ?? provider.pathFor(known.name);
    } catch {
      continue; // not registered: the feature is off
    }
    routes.push({ name: known.name, path: `${base}${known.suffix ?? ''}`, methods: known.methods });
  }
  return routes;
}

const fold = (path: string) => path.toUpperCase();

/**
 * The methods a path takes among `routes`, matched as oidc-provider matches
 * (case-insensitively, a trailing slash ignored, `:x` any non-empty segment);
 * undefined when no route has the path.
 */
export function methodsForPath(routes: readonly ProviderRoute[]): (path: string) => ReadonlySet<string> | undefined {
  const compiled = routes.map((route) => ({ segments: fold(route.path).split('/'), methods: route.methods }));
  return (path) => {
    const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    const parts = fold(trimmed).split('/');
    let methods: Set<string> | undefined;
    for (const route of compiled) {
      if (route.segments.length !== parts.length) continue;
      if (route.segments.every((segment, i) => (segment.startsWith(':') ? parts[i] !== '' : segment === parts[i]))) {
        methods ??= new Set();
        for (const method of route.methods) methods.add(method);
      }
    }
    return methods;
  };
}

/**
 * 405 with Allow for a method the provider's route does not take (the
 * provider itself answers a 404 "unrecognized route"); every other request
 * goes on to `next` untouched.
 */
export function rejectWrongMethods(routes: readonly ProviderRoute[], next: NodeHandler): NodeHandler {
  const methodsOf = methodsForPath(routes);
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const allowed = methodsOf(query === -1 ? url : url.slice(0, query));
    if (allowed && !allowed.has(req.method ?? '')) {
      return methodNotAllowed(res, allowed, 'oauth', String(res.getHeader('X-Request-Id') ?? '') || undefined);
    }
    return next(req, res);
  };
}
