// The reference system: the bare oidc-provider (same copy and version Tessera uses, from
// node_modules) with its default in-memory adapter and only the configuration needed to
// serve the operations the benchmark drives. Anything Tessera adds on top (outer Koa app,
// persistence, audit, rate limits, ...) is what the ratios measure.
//
//   node bench/baseline-server.js [--port N] [--jwks FILE]
//   env: PORT, BENCH_JWKS_FILE, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET
//
// Prints `READY <port>` on stdout once it accepts connections.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLocalJWKSet, jwtVerify } from 'jose';
import Provider from 'oidc-provider';

import {
  ACCOUNT_ID, API_RESOURCE, JWT_INTROSPECTION_PATH, OPAQUE_RESOURCE, REDIRECT_URI, RESOURCE_SCOPE,
} from './baseline-constants.js';
import { ensureBenchJwks, publicJwks } from './lib/keys.js';

const { values: argv } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    jwks: { type: 'string' },
  },
  strict: false,
});

const port = Number(argv.port ?? process.env.PORT ?? 0);
const host = argv.host ?? process.env.HOST ?? '127.0.0.1';
const jwksFile = argv.jwks ?? process.env.BENCH_JWKS_FILE ?? join(tmpdir(), 'tessera-bench-jwks.json');
const clientId = process.env.BENCH_CLIENT_ID ?? 'bench-client';
const clientSecret = process.env.BENCH_CLIENT_SECRET ?? 'bench-client-secret-0123456789abcdef0123456789abcdef';

const jwks = await ensureBenchJwks(jwksFile);

const resourceServers = {
  [API_RESOURCE]: {
    scope: RESOURCE_SCOPE,
    audience: API_RESOURCE,
    accessTokenTTL: 3600,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  },
  [OPAQUE_RESOURCE]: {
    scope: RESOURCE_SCOPE,
    audience: OPAQUE_RESOURCE,
    accessTokenTTL: 3600,
    accessTokenFormat: 'opaque',
  },
};

const httpServer = createServer();
await new Promise((resolve, reject) => {
  httpServer.once('error', reject);
  httpServer.listen(port, host, resolve);
});
const actualPort = httpServer.address().port;
const issuer = `http://${host}:${actualPort}`;

const provider = new Provider(issuer, {
  jwks,
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: `openid offline_access ${RESOURCE_SCOPE}`,
  }],
  scopes: ['openid', 'offline_access', ...RESOURCE_SCOPE.split(' ')],
  cookies: { keys: ['bench-cookie-key-not-secret-0123456789'] },
  findAccount: async (_ctx, accountId) => ({
    accountId,
    claims: async () => ({ sub: accountId }),
  }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // oidc-provider's default policy, spelled out only to silence its start-up notice.
      allowedPolicy: async (ctx, client, token) => !(
        client.clientAuthMethod === 'none' && token.clientId !== ctx.oidc.client.clientId
      ),
    },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        const info = resourceServers[resourceIndicator];
        if (!info) throw new Provider.errors.InvalidTarget();
        return info;
      },
    },
  },
  // Tessera rotates refresh tokens on every use (reuse revokes the grant); do the same here
  // so a refresh costs the same amount of protocol work on both sides.
  rotateRefreshToken: () => true,
  // Silence the "you should change this" notices for TTLs; values are oidc-provider's defaults.
  ttl: {
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
    AuthorizationCode: 60,
    IdToken: 3600,
    Grant: 14 * 24 * 3600,
    Interaction: 3600,
    RefreshToken: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
  },
});

// Scripted interaction: log the fixed account in and grant whatever is asked, so the
// authorization code flow can be driven purely over HTTP.
provider.use(async (ctx, next) => {
  if (ctx.method !== 'GET' || !ctx.path.startsWith('/interaction/')) return next();

  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = details;
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: ACCOUNT_ID } };
  } else if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    result = { error: 'access_denied', error_description: `unsupported prompt ${prompt.name}` };
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: false,
  });
  ctx.status = 303;
  ctx.redirect(returnTo);
});

// oidc-provider answers `unsupported_token_type` when asked to introspect a JWT access token.
// Tessera does introspect them (signature + JTI denylist). As the reference for that
// operation this endpoint does the minimal equivalent without a denylist: client
// authentication, ES256 signature and claim checks, RFC 7662 response. It is kept off the
// provider's own introspection path so opaque-token introspection stays entirely bare.
const verificationKeys = createLocalJWKSet(publicJwks(jwks));
const secretDigest = createHash('sha256').update(clientSecret).digest();
function authenticatedClientId(header) {
  const match = /^Basic (.+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const id = decodeURIComponent(decoded.slice(0, colon));
  const secret = decodeURIComponent(decoded.slice(colon + 1));
  const digest = createHash('sha256').update(secret).digest();
  return id === clientId && timingSafeEqual(digest, secretDigest) ? id : undefined;
}
async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 56 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
provider.use(async (ctx, next) => {
  if (ctx.path !== JWT_INTROSPECTION_PATH) return next();
  ctx.set('cache-control', 'no-store');
  if (ctx.method !== 'POST') {
    ctx.status = 405;
    return undefined;
  }
  const caller = authenticatedClientId(ctx.get('authorization'));
  if (!caller) {
    ctx.status = 401;
    ctx.body = { error: 'invalid_client' };
    return undefined;
  }
  const token = (await readForm(ctx.req)).get('token');
  if (!token) {
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: 'missing token' };
    return undefined;
  }
  try {
    const { payload } = await jwtVerify(token, verificationKeys, {
      issuer,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    ctx.body = payload.client_id === caller
      ? { ...payload, active: true, token_type: 'Bearer' }
      : { active: false };
  } catch {
    ctx.body = { active: false };
  }
  return undefined;
});

provider.on('server_error', (_ctx, err) => {
  process.stderr.write(`server_error: ${err?.stack ?? err}\n`);
});

httpServer.on('request', provider.callback());

function shutdown() {
  httpServer.close(() => process.exit(0));
  httpServer.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

process.stdout.write(`READY ${actualPort}\n`);
