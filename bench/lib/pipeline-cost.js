// What the provider pipeline steps issue 14 added (src/provider/index.ts providerPipeline:
// the device flow's four, the unauthorized_client answer (now one step for the password,
// token-exchange and device grants, where the password grant had its own before), the logout
// redirect check) cost a request they do not serve, in this process, without HTTP: a
// client_credentials POST to /token and a POST to /token/introspection, passed through the six steps (composed
// as the provider composes its middleware) around an inner handler that answers as the
// provider would, minus the inner handler alone. Also the input limits' NUL check on the same
// form (src/http/input-limits.ts checkParameters), the one other new per-request work on
// these paths. Node 24 runs the TypeScript sources directly.
import compose from 'koa-compose';

import { checkParameters, replayedRequest } from '../../src/http/index.ts';
import {
  advertisePollingInterval, recordDeviceDecisions,
  restartCodeEntryWithoutSession, slowDownFastPolling,
} from '../../src/provider/device-flow.ts';
import { onlyWhere, pathMayBe } from '../../src/provider/pipeline.ts';
import { dropUnregisteredPostLogoutRedirects } from '../../src/provider/post-logout-redirect.ts';
import { answerUnauthorizedClientStep } from '../../src/provider/unauthorized-client.ts';

const never = (what) => () => { throw new Error(`${what} is not reached on this path`); };

/**
 * The steps as providerPipeline builds them, in its order (`installed`: the device flow's
 * wrapped with onlyWhere as there; else each on every request, as issue 14 merged them);
 * whatever a step may reach on another path throws.
 */
function issue14Steps({ installed }) {
  const paths = {
    token: '/token', end_session: '/session/end', code_verification: '/device', device_authorization: '/device/auth',
  };
  const provider = { pathFor: (route) => paths[route], Client: { find: never('a client lookup') } };
  const devicePaths = [paths.code_verification, paths.device_authorization];
  const atDevice = pathMayBe({ under: devicePaths });
  const atDeviceOrToken = pathMayBe({ exact: [paths.token], under: devicePaths });
  const where = (mayServe, step) => (installed ? onlyWhere(mayServe, step) : step);
  return [
    where(atDeviceOrToken, answerUnauthorizedClientStep),
    where(atDevice, restartCodeEntryWithoutSession()),
    slowDownFastPolling({ tokenPath: provider.pathFor('token'), intervalSeconds: 5, replays: { claimOnce: never('the device poll claim') } }),
    where(atDevice, advertisePollingInterval(5)),
    where(atDevice, recordDeviceDecisions({ enqueue: never('an audit event') })),
    dropUnregisteredPostLogoutRedirects({ provider, logger: { warn: never('a warn line') } }),
  ];
}

const CLIENT = { clientId: 'bench-client', grantTypeAllowed: () => true };
const FORMS = {
  client_credentials: { path: '/token', route: 'token', body: 'grant_type=client_credentials&scope=api%3Aread&resource=https%3A%2F%2Fapi.bench.example' },
  introspection: { path: '/token/introspection', route: 'introspection', body: `token=${'a'.repeat(43)}&token_type_hint=access_token` },
};

/** The request as the input limits hand it on (its form's bytes kept for later readers): one per form, read only. */
const requests = new Map();
const requestOf = (form) => {
  if (!requests.has(form)) requests.set(form, replayedRequest({ headers: {}, rawHeaders: [], method: 'POST', url: form.path, socket: {} }, Buffer.from(form.body)));
  return requests.get(form);
};

/** One request's context: what the steps read (method, path, the buffered form, then ctx.oidc and the answer). */
function contextFor(form) {
  return {
    method: 'POST', path: form.path, querystring: '', req: requestOf(form), status: 404, body: undefined, headers: {}, set() {},
  };
}

/** What the provider does inside: names the route, authenticates the client, answers 200. */
const innerFor = (form) => async (ctx) => {
  ctx.oidc = { route: form.route, params: { grant_type: 'client_credentials' }, client: CLIENT };
  ctx.status = 200;
  ctx.body = { active: true };
};

async function nsPerRequest(handler, form, iterations) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) await handler(contextFor(form));
  return Number(process.hrtime.bigint() - started) / iterations;
}

/**
 * ns per request the six steps add, per form (the fastest of `repeats` loops with the
 * steps minus the fastest without; also the median of the back-to-back differences): `stepsNs` as
 * providerPipeline installs them, `everyStepNs` with each step on every request (how
 * issue 14 merged them, less the two made synchronous since); and the NUL check.
 */
export async function pipelineCostNanoseconds({ iterations = 200_000, repeats = 9 } = {}) {
  const out = {};
  for (const [name, form] of Object.entries(FORMS)) {
    const inner = innerFor(form);
    const alone = compose([inner]);
    out[name] = {};
    for (const [variant, installed] of [['stepsNs', true], ['everyStepNs', false]]) {
      const withSteps = compose([...issue14Steps({ installed }).map((s) => s.middleware), inner]);
      for (let i = 0; i < 3; i += 1) { await nsPerRequest(withSteps, form, 20_000); await nsPerRequest(alone, form, 20_000); } // JIT
      const without = [];
      const within = [];
      for (let r = 0; r < repeats; r += 1) {
        without.push(await nsPerRequest(alone, form, iterations));
        within.push(await nsPerRequest(withSteps, form, iterations));
      }
      // the fastest loop of each is the one other processes disturbed least (a shared machine)
      out[name][variant] = Math.round(Math.min(...within) - Math.min(...without));
      const differences = within.map((b, i) => b - without[i]).sort((x, y) => x - y);
      out[name][`${variant}MedianOfPairs`] = Math.round(differences[Math.floor(differences.length / 2)]);
    }
  }
  const limits = { maxBodyBytes: 65_536, maxParameters: 100, maxParameterLength: 8192 };
  const nul = (s) => s.includes('%00') || s.includes('\0');
  for (const [name, form] of Object.entries(FORMS)) {
    for (let i = 0; i < 100_000; i += 1) checkParameters(form.body, limits, 'body');
    const started = process.hrtime.bigint();
    let found = 0;
    for (let i = 0; i < iterations; i += 1) if (nul(form.body)) found += 1;
    if (found) throw new Error('a NUL in the bench form');
    out[name].nulCheckNs = Math.round(Number(process.hrtime.bigint() - started) / iterations);
  }
  return { ...out, iterations, repeats };
}

// node bench/lib/pipeline-cost.js: print the figures
if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await pipelineCostNanoseconds(), null, 2)}\n`);
}
