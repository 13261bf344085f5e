/*
 * The route a request is counted under: a template ("/interaction/:uid/login"),
 * never the raw path. A label value is a time series: raw paths would let any
 * client create series without end (uids, reset tokens, random junk), growing
 * the server's memory and every scrape. So the set of values is fixed here,
 * and a path that matches none of them is counted as "other".
 *
 * Kept apart from the routers on purpose: it names oidc-provider's default
 * routes too (which Tessera does not route itself), and a route added
 * elsewhere shows up as "other" until it is named here, which costs nothing
 * but detail.
 */

/** Exact paths (oidc-provider's defaults and Tessera's own), counted as they are. */
const EXACT = new Set([
  '/',
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/auth',
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/me',
  '/jwks',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/device',
  '/device/auth',
  '/request',
  '/backchannel',
  '/reg',
  '/healthz',
  '/readyz',
  '/metrics',
  '/favicon.ico',
  '/account',
  '/account/callback',
  '/account/apps/revoke',
  '/account/sessions/end',
  '/account/sessions/end-all',
  '/account/sign-out',
  '/account/signed-out',
  '/account/password',
]);

/** The steps after /interaction/:uid/ (src/interactions). */
const INTERACTION_STEPS = new Set(['login', 'second-factor', 'enroll', 'continue', 'confirm', 'abort', 'passkey', 'passkey/options']);

/** Prefixes whose rest is an id or a secret: counted under the template. */
const PREFIXES: Array<[prefix: string, template: string]> = [
  ['/account/reset/', '/account/reset/:token'],
  ['/auth/', '/auth/:uid'],
  // the device flow's resume after sign-in (RFC 8628 pages)
  ['/device/', '/device/:uid'],
  ['/reg/', '/reg/:clientId'],
  ['/assets/', '/assets/*'],
  ['/admin/v1/', '/admin/v1/*'],
];

export const OTHER_ROUTE = 'other';

/** The route template of a path (without its query string); OTHER_ROUTE when none matches. */
export function routeLabelOf(path: string): string {
  // routing is case-insensitive; a trailing slash is the same route
  let p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (EXACT.has(p)) return p;
  p = p.toLowerCase();
  if (EXACT.has(p)) return p;
  if (p.startsWith('/interaction/')) {
    const rest = p.slice('/interaction/'.length);
    const slash = rest.indexOf('/');
    if (slash === -1) return rest ? '/interaction/:uid' : OTHER_ROUTE;
    const step = rest.slice(slash + 1);
    return INTERACTION_STEPS.has(step) ? `/interaction/:uid/${step}` : OTHER_ROUTE;
  }
  for (const [prefix, template] of PREFIXES) if (p.startsWith(prefix)) return template;
  return OTHER_ROUTE;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The method as a label: the standard ones, anything else "other" (a client can send any token). */
export function methodLabelOf(method: string | undefined): string {
  return method && METHODS.has(method) ? method : OTHER_ROUTE;
}

/** The status as a label: a three-digit code Node can send, else "other". */
export function statusLabelOf(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : OTHER_ROUTE;
}
