// A small API protected by Tessera: what a resource server (an MCP server,
// any HTTP API) needs to accept Tessera's access tokens. Node 24 and `jose`
// only. Run from a Tessera checkout:
//
//   ISSUER=https://auth.example.com RESOURCE=https://api.example.com/notes \
//   node examples/protected-api/server.mjs
//
// It publishes its RFC 9728 protected-resource metadata (naming Tessera as
// its authorization server), answers a request without a valid token with
// 401 and `WWW-Authenticate: Bearer resource_metadata="…"` (so a client that
// knows only this API's URL can find where to get a token), and checks each
// token either as a JWT (RFC 9068, Tessera's JWKS) or by introspection
// (RFC 7662, which also sees revocations at once). See README.md beside this file.
import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify, errors as joseErrors } from 'jose';

const env = process.env;
const PORT = Number(env.PORT ?? 4000);
const HOST = env.HOST ?? '127.0.0.1';
/** Tessera's issuer URL, exactly as its metadata names it */
const ISSUER = required('ISSUER');
/** this API's resource identifier: the audience its tokens must carry (the `resource` a client asks for) */
const RESOURCE = required('RESOURCE');
/** the scope a request must carry (space-separated: all of them) */
const REQUIRED_SCOPES = (env.REQUIRED_SCOPES ?? 'notes:read').split(' ').filter(Boolean);
/** every scope this API understands (advertised in its metadata) */
const SCOPES_SUPPORTED = (env.SCOPES_SUPPORTED ?? REQUIRED_SCOPES.join(' ')).split(' ').filter(Boolean);
/** `jwt` (default: local checks with Tessera's keys) or `introspection` */
const TOKEN_CHECK = env.TOKEN_CHECK ?? 'jwt';
const INTROSPECTION_CLIENT_ID = env.INTROSPECTION_CLIENT_ID;
const INTROSPECTION_CLIENT_SECRET = env.INTROSPECTION_CLIENT_SECRET;

function required(name) {
  const value = env[name];
  if (!value) {
    console.error(`${name} is required (see examples/protected-api/README.md)`);
    process.exit(1);
  }
  return value;
}
if (TOKEN_CHECK !== 'jwt' && TOKEN_CHECK !== 'introspection') {
  console.error('TOKEN_CHECK must be jwt or introspection');
  process.exit(1);
}
if (TOKEN_CHECK === 'introspection') { required('INTROSPECTION_CLIENT_ID'); required('INTROSPECTION_CLIENT_SECRET'); }

const resourceUrl = new URL(RESOURCE);
// RFC 9728 §3.1: the well-known suffix goes between the host and the resource's path
const resourcePath = resourceUrl.pathname === '/' ? '' : resourceUrl.pathname.replace(/\/$/, '');
const METADATA_PATH = `/.well-known/oauth-protected-resource${resourcePath}`;
const METADATA_URL = `${resourceUrl.origin}${METADATA_PATH}`;

/** RFC 9728 §2: what a client needs to know to get a token for this API */
const metadata = {
  resource: RESOURCE,
  authorization_servers: [ISSUER],
  scopes_supported: SCOPES_SUPPORTED,
  bearer_methods_supported: ['header'],
  resource_name: env.RESOURCE_NAME ?? 'Example notes API',
};

/** Tessera's RFC 8414 metadata, read once (jwks_uri, introspection_endpoint) */
let authorizationServer;
async function authorizationServerMetadata() {
  if (!authorizationServer) {
    authorizationServer = (async () => {
      const res = await fetch(new URL('/.well-known/oauth-authorization-server', ISSUER), { headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`authorization server metadata: ${res.status}`);
      const body = await res.json();
      // RFC 8414 §3.3: the metadata must name the issuer it was fetched for
      if (body.issuer !== ISSUER) throw new Error(`authorization server metadata names ${body.issuer}, not ${ISSUER}`);
      return body;
    })();
    authorizationServer.catch(() => { authorizationServer = undefined; }); // retried at the next request
  }
  return authorizationServer;
}

let jwks;
class InvalidToken extends Error {}

/** RFC 9068: a JWT access token from ISSUER, for this API, not expired, of type at+jwt. */
async function checkJwt(token) {
  const as = await authorizationServerMetadata();
  jwks ??= createRemoteJWKSet(new URL(as.jwks_uri));
  try {
    const { payload } = await jwtVerify(token, jwks, {
      issuer: ISSUER,
      audience: RESOURCE,
      typ: 'at+jwt',
      algorithms: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      requiredClaims: ['exp', 'sub', 'client_id'],
    });
    return payload;
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) throw new InvalidToken(error.code === 'ERR_JWT_EXPIRED' ? 'the token has expired' : 'the token is not valid for this API');
    throw error;
  }
}

/** RFC 7662: Tessera says whether the token is active (revocations included) and for whom. */
async function checkByIntrospection(token) {
  const as = await authorizationServerMetadata();
  const res = await fetch(as.introspection_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(INTROSPECTION_CLIENT_ID)}:${encodeURIComponent(INTROSPECTION_CLIENT_SECRET)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }),
  });
  if (!res.ok) throw new Error(`introspection: ${res.status}`);
  const answer = await res.json();
  if (answer.active !== true) throw new InvalidToken('the token is not active');
  const audiences = Array.isArray(answer.aud) ? answer.aud : [answer.aud];
  if (!audiences.includes(RESOURCE)) throw new InvalidToken('the token is not for this API');
  if (answer.iss !== undefined && answer.iss !== ISSUER) throw new InvalidToken('the token is not from this API\'s authorization server');
  return answer;
}

const quoted = (value) => `"${String(value).replace(/[\\"]/g, '\\$&')}"`;

/** RFC 6750 §3 with RFC 9728 §5.1's resource_metadata */
function challenge(res, status, error, description) {
  const parts = [`resource_metadata=${quoted(METADATA_URL)}`];
  if (error) parts.unshift(`error=${quoted(error)}`, `error_description=${quoted(description)}`);
  if (error === 'insufficient_scope' || !error) parts.push(`scope=${quoted(REQUIRED_SCOPES.join(' '))}`);
  res.writeHead(status, { 'www-authenticate': `Bearer ${parts.join(', ')}`, 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error: error ?? 'unauthorized', ...(description ? { error_description: description } : {}) }));
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const server = createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  try {
    if (req.method === 'GET' && path === METADATA_PATH) {
      return json(res, 200, metadata, { 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' });
    }
    if (path !== (resourcePath || '/')) return json(res, 404, { error: 'not_found' });
    if (req.method !== 'GET') return json(res, 405, { error: 'method_not_allowed' }, { allow: 'GET' });

    const authorization = req.headers.authorization ?? '';
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization);
    // no token (or not a bearer one): only the challenge, no error code (RFC 6750 §3.1)
    if (!match) return challenge(res, 401);
    let claims;
    try {
      claims = TOKEN_CHECK === 'introspection' ? await checkByIntrospection(match[1]) : await checkJwt(match[1]);
    } catch (error) {
      if (error instanceof InvalidToken) return challenge(res, 401, 'invalid_token', error.message);
      throw error;
    }
    // a sender-constrained token (DPoP, mTLS) is not a bearer token: this example checks no proofs, so it refuses them
    if (claims.cnf !== undefined) return challenge(res, 401, 'invalid_token', 'sender-constrained tokens are not accepted here');
    const granted = new Set(String(claims.scope ?? '').split(' '));
    if (!REQUIRED_SCOPES.every((scope) => granted.has(scope))) {
      return challenge(res, 403, 'insufficient_scope', `this API needs the scope ${REQUIRED_SCOPES.join(' ')}`);
    }
    return json(res, 200, { notes: [{ id: 1, text: 'Hello from the protected API' }], subject: claims.sub, client_id: claims.client_id, scope: claims.scope }, { 'cache-control': 'no-store' });
  } catch (error) {
    // Tessera unreachable or answering oddly: the API cannot decide, the client may retry
    console.error(`token check failed: ${error.message}`);
    return json(res, 503, { error: 'temporarily_unavailable' }, { 'retry-after': '5' });
  }
});

server.listen(PORT, HOST, () => {
  console.log(`protected API listening on http://${HOST}:${PORT}${resourcePath || '/'} (resource ${RESOURCE}, metadata ${METADATA_URL}, tokens checked by ${TOKEN_CHECK})`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
