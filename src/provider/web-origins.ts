import type { KoaContextWithOIDC } from 'oidc-provider';
import type { ProviderStep } from './pipeline.ts';

/*
 * CORS per client. A browser app may call the token, userinfo, revocation and
 * introspection endpoints from the origins its registration lists in
 * `web_origins`; when it lists none:
 *   - a public client (token_endpoint_auth_method none): the origins of its
 *     http(s) redirect URIs, where the app runs;
 *   - a confidential client: none (its secret does not belong in a browser,
 *     and absent means nothing).
 * `web_origins: []` turns CORS off for a public client too; `["*"]` (alone)
 * allows every origin, only when an operator sets it.
 * Discovery and the JWKS are open to every origin (the provider's own CORS);
 * the admin API and the pages never send CORS headers (nothing in Tessera's
 * Koa app sets them).
 */

/** the one entry that allows every origin */
export const ANY_ORIGIN = '*';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Why `value` is not an origin a client may register, or undefined when it
 * is one: scheme://host[:port] exactly as a browser sends it in `Origin` (no
 * path, query, fragment, credentials or trailing slash, lower case), https, or
 * http on a loopback host (development).
 */
export function webOriginProblem(value: string): string | undefined {
  const url = URL.parse(value);
  if (!url || url.origin === 'null') return `"${value}" is not an origin (scheme://host[:port])`;
  if (url.hostname.includes('*')) return `"${value}": wildcards are not origins (list each origin, or "*" alone)`;
  if (url.origin !== value) return `"${value}" is not an origin as browsers send it: "${url.origin}"`;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return `"${value}" must use https (http only on a loopback host)`;
}

/** Why a `web_origins` list cannot be registered, or undefined. */
export function webOriginsProblem(value: unknown): string | undefined {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return 'web_origins must be an array of strings';
  if (value.includes(ANY_ORIGIN)) return value.length === 1 ? undefined : 'web_origins: "*" must be the only entry';
  for (const origin of value) {
    const problem = webOriginProblem(origin);
    if (problem) return `web_origins: ${problem}`;
  }
  return undefined;
}

interface ClientOrigins {
  web_origins?: unknown;
  clientAuthMethod?: string;
  tokenEndpointAuthMethod?: string;
  redirectUris?: readonly string[];
  /** the built client's (camelCase) or the stored metadata's name */
  applicationType?: string;
  application_type?: string;
}

/** The origins a client's browser code may call from (see above). */
export function effectiveWebOrigins(client: ClientOrigins): readonly string[] {
  if (Array.isArray(client.web_origins)) return client.web_origins.filter((o): o is string => typeof o === 'string');
  const authMethod = client.clientAuthMethod ?? client.tokenEndpointAuthMethod;
  if (authMethod !== 'none') return [];
  // a native app's redirects go to the app, not to a web page: its loopback
  // URIs (any port) would otherwise open its answers to whatever serves
  // http://127.0.0.1 in the person's browser
  if ((client.applicationType ?? client.application_type) === 'native') return [];
  const origins = (client.redirectUris ?? []).flatMap((uri) => {
    const url = URL.parse(uri);
    // custom schemes (native apps) have no web origin
    return url && (url.protocol === 'https:' || url.protocol === 'http:') ? [url.origin] : [];
  });
  return [...new Set(origins)];
}

/** Whether `origin` may read the client's answers. "null" (sandboxed pages, file:) never may. */
export function webOriginAllowed(client: ClientOrigins, origin: string): boolean {
  if (!origin || origin === 'null') return false;
  const allowed = effectiveWebOrigins(client);
  return allowed.includes(origin) || (allowed.length === 1 && allowed[0] === ANY_ORIGIN);
}

/**
 * The provider's `clientBasedCORS`: asked once the client is known, at the
 * token, userinfo, revocation and introspection endpoints (and device
 * authorization); a refusal answers invalid_request before any work is done.
 */
export function clientBasedCors(_ctx: unknown, origin: string, client: ClientOrigins): boolean {
  return webOriginAllowed(client, origin);
}

/** the provider's routes whose CORS depends on the client */
const CLIENT_BASED_ROUTES = new Set(['token', 'userinfo', 'revocation', 'introspection', 'device_authorization']);
const CORS_ANSWER_HEADERS = ['Access-Control-Allow-Origin', 'Access-Control-Expose-Headers', 'Access-Control-Allow-Credentials'];

/**
 * The provider echoes the Origin of a request at those routes before the
 * client is known, and takes it back only when clientBasedCORS refuses: an
 * answer given before a client was established (unknown client, bad secret,
 * invalid access token at userinfo) would carry the echo. Here every answer
 * (not a preflight, which names no client) keeps the CORS headers only when
 * its client is known and allows the origin.
 */
export function corsOnlyForRegisteredOrigins(): ProviderStep {
  return {
    name: 'CORS headers only for the client\'s registered web origins',
    async middleware(ctx: KoaContextWithOIDC, next) {
      try {
        await next();
      } finally {
        const route = ctx.oidc?.route;
        const origin = ctx.get('Origin');
        if (origin && ctx.method !== 'OPTIONS' && route && CLIENT_BASED_ROUTES.has(route)) {
          const client = ctx.oidc?.client as ClientOrigins | undefined;
          if (!client || !webOriginAllowed(client, origin)) for (const header of CORS_ANSWER_HEADERS) ctx.remove(header);
        }
      }
    },
  };
}
