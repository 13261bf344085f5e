// The operations the benchmark drives, each against a started target instance.
//
// A started instance (what a target's start() resolves to) provides:
//   url                   base URL, e.g. http://127.0.0.1:40123
//   clientId, clientSecret   a confidential client (client_secret_basic) allowed to use
//                         client_credentials, authorization_code, refresh_token and to
//                         introspect its own tokens
//   jwtResource           resource indicator of an API whose access tokens are ES256 JWTs
//   opaqueResource        resource indicator of an API whose access tokens are opaque
//   resourceScope         scopes of those APIs ("read write")
//   introspectionPath     default /token/introspection (opaque tokens); the token endpoint
//                         is /token everywhere
//   jwtIntrospectionPath  default introspectionPath (JWT access tokens)
//   obtainRefreshToken()  optional: resolves to a fresh refresh token of a new grant;
//                         without it the refresh operation is skipped for the target
//   refreshParams         optional extra form parameters for grant_type=refresh_token
//   passwordUsers         optional [{ username, password }]: accounts for grant_type=password
//                         (the client must be allowed to use it); without them the
//                         password operation is skipped for the target
//   authorizationCodeRoundTrip(i)  optional: one complete authorization code flow with a
//                         new session (authorize, login, consent, code, token), resolving
//                         to the token response; `i` picks an account
//
// An operation: { name, title, floor?, settleSeconds?, supports(instance) -> true | reason,
//                 (floor: the floor name(s) of the crypto every request must do; several
//                 names combine as 1 / sum(1 / rate), the rate doing all of them in turn;
//                 settleSeconds: a pause before each run, for work left over by the last)
//                 prepare(instance, { connections }) -> Prepared }
// Prepared: { requests, check?(status, body) -> boolean, beforeRun?() } or { run(options) }
// `requests` is an autocannon request list; `check` rejects 2xx answers that are wrong (an
// introspection saying active:false counts as a failure, not as throughput). `run` replaces
// autocannon for operations that are not one request (the authorization code round trip):
// it gets the load options and resolves to what runLoad would.
import { basicAuth, clientCredentialsToken, form } from './oauth.js';
import { round } from './load.js';

const FORM = 'application/x-www-form-urlencoded';
const TOKEN_PATH = '/token';

function postForm(instance, path, bodyOrSetup) {
  const request = {
    method: 'POST',
    path,
    headers: {
      authorization: basicAuth(instance),
      'content-type': FORM,
      accept: 'application/json',
    },
  };
  if (typeof bodyOrSetup === 'function') {
    request.setupRequest = (req) => ({ ...req, body: bodyOrSetup() });
  } else {
    request.body = bodyOrSetup;
  }
  return request;
}

function jsonField(body, field) {
  try {
    return JSON.parse(body)[field];
  } catch {
    return undefined;
  }
}

async function mintMany(count, mint, parallel = 4) {
  const out = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      out.push(await mint());
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return out;
}

function roundRobin(items) {
  let i = 0;
  return () => {
    const item = items[i];
    i = (i + 1) % items.length;
    return item;
  };
}

function clientCredentials(name, title, resourceKey, floor) {
  return {
    name,
    title,
    floor,
    supports: (instance) => (instance[resourceKey] ? true : `no ${resourceKey}`),
    async prepare(instance) {
      const body = form({
        grant_type: 'client_credentials',
        resource: instance[resourceKey],
        scope: instance.resourceScope ?? 'read write',
      });
      return {
        requests: [postForm(instance, TOKEN_PATH, body)],
        check: (status, resBody) => typeof jsonField(resBody, 'access_token') === 'string',
      };
    },
  };
}

function introspection(name, title, resourceKey, pathKey, floor) {
  return {
    name,
    title,
    floor,
    supports: (instance) => (instance[resourceKey] ? true : `no ${resourceKey}`),
    async prepare(instance) {
      const tokens = await mintMany(64, () => clientCredentialsToken(instance, {
        resource: instance[resourceKey],
        scope: instance.resourceScope ?? 'read write',
      }));
      const nextToken = roundRobin(tokens);
      const path = instance[pathKey] ?? instance.introspectionPath ?? '/token/introspection';
      return {
        requests: [postForm(instance, path, () => form({ token: nextToken(), token_type_hint: 'access_token' }))],
        check: (status, body) => jsonField(body, 'active') === true,
      };
    },
  };
}

// Refresh tokens rotate: each one is good for exactly one request. A shared pool is topped
// up with a fresh grant per chain before every run; each successful answer returns its new
// refresh token to the pool (autocannon calls onResponse before the connection's next
// setupRequest, so `2 x connections` tokens keep every connection busy).
const refresh = {
  name: 'refresh',
  title: 'refresh_token grant (rotation) → JWT AT + ID token + new RT',
  // One ES256 signature (access token) and one RS256 signature (ID token) per request.
  floor: ['es256_sign', 'rs256_sign'],
  supports: (instance) => (typeof instance.obtainRefreshToken === 'function' ? true : 'no obtainRefreshToken()'),
  async prepare(instance, { connections }) {
    const pool = [];
    const extra = instance.refreshParams ?? {};
    const request = postForm(instance, TOKEN_PATH, () => form({
      grant_type: 'refresh_token',
      refresh_token: pool.shift() ?? 'pool-exhausted',
      ...extra,
    }));
    request.onResponse = (status, body) => {
      if (status === 200) {
        const rt = jsonField(body, 'refresh_token');
        if (rt) pool.push(rt);
      }
    };
    return {
      requests: [request],
      check: (status, body) => typeof jsonField(body, 'access_token') === 'string',
      async beforeRun() {
        // Fresh grants for every run, so no run inherits another's grant history.
        pool.length = 0;
        pool.push(...await mintMany(connections * 2, () => instance.obtainRefreshToken()));
      },
    };
  },
};

// The password grant: argon2id verification of the user's password (the floor), the
// brute-force guard's counters, a saved grant and a JWT access token. Accounts are taken
// round robin, so no account has more than one or two attempts in flight.
const passwordGrant = {
  name: 'password',
  title: 'password grant (argon2id verify) → JWT access token',
  floor: 'argon2id_verify',
  // requests in flight when a run ends are still hashed; every server shares the core
  settleSeconds: 0.4,
  supports: (instance) => (instance.passwordUsers?.length ? true : 'no password grant'),
  async prepare(instance) {
    const next = roundRobin(instance.passwordUsers);
    return {
      requests: [passwordRequest(instance, next)],
      check: (status, body) => typeof jsonField(body, 'access_token') === 'string',
    };
  },
};

export function passwordRequest(instance, nextUser) {
  return postForm(instance, TOKEN_PATH, () => {
    const { username, password } = nextUser();
    return form({
      grant_type: 'password',
      username,
      password,
      resource: instance.jwtResource,
      scope: instance.resourceScope ?? 'read write',
    });
  });
}

/**
 * Runs `flow(i)` (a promise) with `connections` flows in flight for `durationSeconds`, or,
 * with `overallRate`, one flow at a time started every 1/overallRate seconds (a flow that
 * overruns its slot delays the next one). Resolves to runLoad's shape; latency is per flow.
 */
export async function runFlows(flow, { durationSeconds, connections = 10, overallRate }) {
  const started = performance.now();
  const deadline = started + durationSeconds * 1000;
  const latencies = [];
  let ok = 0;
  let errors = 0;
  let n = 0;
  let lastError;
  const once = async () => {
    const t0 = performance.now();
    try {
      await flow(n++);
      ok += 1;
      latencies.push(performance.now() - t0);
    } catch (err) {
      errors += 1;
      lastError = err;
    }
  };
  if (overallRate) {
    const interval = 1000 / overallRate;
    for (let slot = started; slot < deadline; slot += interval) {
      const wait = slot - performance.now();
      if (wait > 0) await new Promise((r) => { setTimeout(r, wait); });
      await once();
    }
  } else {
    const worker = async () => { while (performance.now() < deadline) await once(); };
    await Promise.all(Array.from({ length: connections }, worker));
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))], 1) : undefined);
  return {
    rps: round((ok + errors) / seconds),
    okRps: round(ok / seconds),
    p50: pct(0.5),
    p99: pct(0.99),
    requests: ok + errors,
    ok,
    non2xx: 0,
    errors,
    timeouts: 0,
    statusCodes: {},
    durationSeconds: round(seconds, 2),
    lastError: lastError ? String(lastError.message ?? lastError).slice(0, 300) : undefined,
  };
}

// authorize → login page → consent page → code → token, a new session every time, scripted
// over HTTP by the load generator (fetch, following redirects by hand). On Tessera the login
// page verifies the password (argon2id); the baseline's scripted interactions have no
// password to check. Figures are complete flows per second and per-flow latency.
const authorizationCode = {
  name: 'authcode',
  title: 'authorization code round trip: authorize → login → consent → code → token (new session)',
  floor: null,
  settleSeconds: 0.4,
  supports: (instance) => (typeof instance.authorizationCodeRoundTrip === 'function' ? true : 'no authorizationCodeRoundTrip()'),
  async prepare(instance) {
    return {
      run: (options) => runFlows((i) => instance.authorizationCodeRoundTrip(i), options),
    };
  },
};

// `default: false` operations run only when named with --ops.
export const OPERATIONS = [
  clientCredentials('client_credentials_jwt', 'client_credentials → JWT access token (ES256)', 'jwtResource', 'es256_sign'),
  { ...clientCredentials('client_credentials_opaque', 'client_credentials → opaque access token (stored)', 'opaqueResource', null), default: false },
  introspection('introspect_opaque', 'introspection of an opaque access token', 'opaqueResource', 'introspectionPath'),
  introspection('introspect_jwt', 'introspection of a JWT access token', 'jwtResource', 'jwtIntrospectionPath', 'es256_verify'),
  refresh,
  passwordGrant,
  authorizationCode,
];

/**
 * Wraps `prepared.requests` so that 2xx answers failing `check` are counted as invalid,
 * then runs one load run through `runLoad`. okRps counts only valid 2xx answers.
 */
export async function measureOperation(runLoad, instance, prepared, loadOptions) {
  if (prepared.beforeRun) await prepared.beforeRun();
  if (prepared.run) return { ...(await prepared.run(loadOptions)), invalid: 0 };
  let invalid = 0;
  const requests = prepared.requests.map((req) => {
    if (!prepared.check) return req;
    const inner = req.onResponse;
    return {
      ...req,
      onResponse(status, body, context, headers) {
        if (status >= 200 && status < 300 && !prepared.check(status, body)) invalid += 1;
        if (inner) inner(status, body, context, headers);
      },
    };
  });
  const run = await runLoad({ ...loadOptions, url: loadOptions.url ?? instance.url, requests });
  const valid = Math.max(0, run.ok - invalid);
  return {
    ...run,
    invalid,
    okRps: Math.round((valid / run.durationSeconds) * 10) / 10,
  };
}
