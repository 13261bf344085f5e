// Issue 13, "done means" 1: a walk of every route (test/support/route-table.ts
// reads them from the running server, so a new route is walked without a
// change here). On every answer: the security headers; no CORS header on the
// admin API and the pages, whoever asks, nor anywhere for a request without
// Origin; 405 with Allow for a wrong method, 415 for a body that is not a
// form (JSON on the admin API), 406 from the admin API to an Accept without
// JSON; `Cache-Control: no-store` on every answer of the token and
// introspection endpoints, successes and errors.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { allRoutes, type RouteEntry } from '../support/route-table.ts';
import { adminToken } from '../admin/admin-api.ts';
import { basicAuth, tokenRequest } from '../support/oauth.ts';

const HOSTILE_ORIGIN = 'https://attacker.example.test';
const PROBE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

interface Answer { status: number; headers: Headers; text: string }

function expectSecurityHeaders(answer: Answer, what: string) {
  const headers = Object.fromEntries(answer.headers);
  expect({ what, nosniff: headers['x-content-type-options'] }).toEqual({ what, nosniff: 'nosniff' });
  expect({ what, referrer: headers['referrer-policy'] }).toEqual({ what, referrer: 'no-referrer' });
  expect({ what, frame: headers['x-frame-options'] }).toEqual({ what, frame: 'DENY' });
  expect({ what, csp: headers['content-security-policy'] }).toEqual({ what, csp: expect.stringContaining("frame-ancestors 'none'") });
  expect({ what, csp: headers['content-security-policy'] }).toEqual({ what, csp: expect.stringContaining("default-src 'none'") });
  expect({ what, requestId: headers['x-request-id'] }).toEqual({ what, requestId: expect.any(String) });
  // never a stack trace
  expect({ what, trace: /\bat [\w.<>]+ \(.*:\d+:\d+\)/.test(answer.text) }).toEqual({ what, trace: false });
}

function expectNoCors(answer: Answer, what: string) {
  const cors = [...answer.headers.keys()].filter((name) => name.startsWith('access-control-'));
  expect({ what, cors }).toEqual({ what, cors: [] });
}

describe('every route', () => {
  let server: TestServer;
  let routes: RouteEntry[];
  let token: string;
  let client: { clientId: string; clientSecret?: string };

  beforeAll(async () => {
    // dynamic registration on (it is off by default): its routes are walked too
    server = await startTestServer({ config: { dynamicRegistration: { mode: 'token' } } });
    routes = allRoutes(server);
    token = await adminToken(server);
    client = await server.createClient({ name: 'Walker', grantTypes: ['client_credentials'] });
  });
  afterAll(async () => { await server?.stop(); });

  async function send(route: RouteEntry, method: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
    const res = await fetch(`${server.url}${route.samplePath}`, { method, headers: init.headers, body: init.body, redirect: 'manual' });
    return { status: res.status, headers: res.headers, text: method === 'HEAD' ? '' : await res.text() };
  }

  /** A request a route takes: a form to the pages and the provider; nothing (unauthenticated) to the admin API. */
  const ordinary = (route: RouteEntry, method: string) => (
    method === 'GET' || method === 'HEAD' || route.kind === 'admin' ? {} : { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'probe=1' });

  test('the table has Tessera\'s routes and the provider\'s', () => {
    const kinds = new Set(routes.map((route) => route.kind));
    expect([...kinds].sort()).toEqual(['admin', 'operations', 'page', 'provider', 'registration']);
    expect(routes.map((route) => route.path)).toEqual(expect.arrayContaining(['/token', '/token/introspection', '/admin/v1/users', '/account', '/interaction/:uid/login', '/readyz']));
  });

  test('the provider\'s table (src/provider/routes.ts) matches the provider: every endpoint of discovery is in it, every method in it is routed', async () => {
    const discovery = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    const endpoints = Object.entries(discovery).filter(([name, value]) => name.endsWith('_endpoint') && typeof value === 'string')
      .map(([, value]) => new URL(value as string).pathname);
    expect(endpoints.length).toBeGreaterThan(5);
    const providerPaths = routes.filter((route) => route.kind === 'provider').map((route) => route.path);
    // registration_endpoint is Tessera's own (src/registration), every other one the provider's
    expect(endpoints).toContain('/reg');
    expect(routes.filter((route) => route.kind === 'registration').map((route) => route.path)).toContain('/reg');
    expect(providerPaths).toEqual(expect.arrayContaining(endpoints.filter((path) => path !== '/reg')));
    // what the provider answers where it has no route (so the check below can fail)
    const unrouted = await fetch(`${server.url}/no-such-endpoint`);
    expect([unrouted.status, await unrouted.text()]).toEqual([404, 'Not Found']);
    for (const route of routes.filter((r) => r.kind === 'provider')) {
      for (const method of route.methods.filter((m) => m !== 'HEAD')) {
        const what = `${method} ${route.path}`;
        const answer = await send(route, method, { ...ordinary(route, method), headers: { ...ordinary(route, method).headers, ...(method === 'OPTIONS' ? { origin: 'https://app.example.test', 'access-control-request-method': 'POST' } : {}) } });
        expect({ what, unrouted: answer.status === 404 && answer.text === 'Not Found' }).toEqual({ what, unrouted: false });
      }
    }
  });

  test('each method a route takes: security headers, no 5xx, no CORS header without an Origin', async () => {
    for (const route of routes) {
      for (const method of route.methods.filter((m) => m !== 'OPTIONS')) {
        const what = `${method} ${route.path}`;
        const answer = await send(route, method, ordinary(route, method));
        expect({ what, status: answer.status < 500 }).toEqual({ what, status: true });
        expectSecurityHeaders(answer, what);
        expectNoCors(answer, what);
      }
    }
  });

  test('from a foreign Origin: no CORS header on the admin API and the pages', async () => {
    for (const route of routes.filter((r) => r.kind === 'admin' || r.kind === 'page' || r.kind === 'registration')) {
      for (const method of [...route.methods.filter((m) => m !== 'HEAD'), 'OPTIONS']) {
        const what = `${method} ${route.path}`;
        const request = ordinary(route, method);
        const headers: Record<string, string> = { ...request.headers, origin: HOSTILE_ORIGIN };
        if (method === 'OPTIONS') headers['access-control-request-method'] = 'POST';
        const answer = await send(route, method, { ...request, headers });
        expect({ what, status: answer.status < 500 }).toEqual({ what, status: true });
        expectSecurityHeaders(answer, what);
        expectNoCors(answer, what);
      }
    }
  });

  /** The methods every route matching `path` takes together (/admin/v1/users/import is also /admin/v1/users/:idOrUsername). */
  const methodsAt = (path: string) => new Set(routes.filter((route) => new RegExp(`^${route.path.replace(/:[A-Za-z]+/g, '[^/]+')}$`, 'i').test(path)).flatMap((route) => route.methods));

  test('a method a route does not take: 405 with Allow naming the ones it does', async () => {
    for (const route of routes) {
      const methods = methodsAt(route.samplePath);
      const wrong = PROBE_METHODS.find((method) => !methods.has(method));
      if (!wrong) continue;
      const what = `${wrong} ${route.path}`;
      const headers: Record<string, string> = route.kind === 'admin' ? { authorization: `Bearer ${token}` } : {};
      const answer = await send(route, wrong, { headers });
      expect({ what, status: answer.status }).toEqual({ what, status: 405 });
      const allow = (answer.headers.get('allow') ?? '').split(/\s*,\s*/);
      expect({ what, allow: [...new Set(allow)].sort() }).toEqual({ what, allow: [...methods].sort() });
      expectSecurityHeaders(answer, what);
      const type = answer.headers.get('content-type') ?? '';
      if (route.kind === 'admin') expect({ what, type }).toEqual({ what, type: expect.stringMatching(/^application\/problem\+json/) });
      if (route.kind === 'provider' || route.kind === 'registration') expect({ what, error: JSON.parse(answer.text).error }).toEqual({ what, error: 'invalid_request' });
    }
  });

  test('a body that is not a form, to every route taking POST outside the admin API: 415', async () => {
    // the registration endpoint takes JSON (RFC 7591): its own test below
    for (const route of routes.filter((r) => r.kind !== 'admin' && r.kind !== 'registration' && r.methods.includes('POST'))) {
      const what = `POST ${route.path}`;
      const answer = await send(route, 'POST', { headers: { 'content-type': 'application/json' }, body: '{"probe":1}' });
      expect({ what, status: answer.status }).toEqual({ what, status: 415 });
      expectSecurityHeaders(answer, what);
    }
    const noType = await fetch(`${server.url}/token`, { method: 'POST', body: new Uint8Array([1, 2, 3]) });
    expect(noType.status).toBe(415);
    expect(noType.headers.get('cache-control')).toBe('no-store');
    expect((await noType.json() as { error: string }).error).toBe('invalid_request');
  });

  test('the registration endpoint: a body that is not JSON is 415, its errors are OAuth JSON and never stored on the way', async () => {
    const registration = routes.filter((r) => r.kind === 'registration');
    expect(registration.map((r) => r.path).sort()).toEqual(['/reg', '/reg/:clientId']);
    const form = await fetch(`${server.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_name=probe' });
    expect(form.status).toBe(415);
    expect(form.headers.get('cache-control')).toBe('no-store');
    expect((await form.json() as { error: string }).error).toBe('invalid_request');
    const untyped = await fetch(`${server.url}/reg`, { method: 'POST', body: new Uint8Array([1, 2, 3]) });
    expect(untyped.status).toBe(415);
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const answer = await fetch(`${server.url}/reg/sample-client`, { method, headers: { authorization: 'Bearer nothing', 'content-type': 'application/json' }, body: method === 'PUT' ? '{}' : undefined });
      expect({ method, status: answer.status, cacheControl: answer.headers.get('cache-control') }).toEqual({ method, status: 401, cacheControl: 'no-store' });
      expect((await answer.json() as { error: string }).error).toBe('invalid_token');
    }
  });

  test('the admin API: a body that is not JSON is 415; an Accept without JSON is 406 on every route', async () => {
    const notJson = await fetch(`${server.url}/admin/v1/users`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: 'probe' });
    expect(notJson.status).toBe(415);
    expect(notJson.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    for (const route of routes.filter((r) => r.kind === 'admin')) {
      for (const method of route.methods.filter((m) => m !== 'HEAD')) {
        const what = `${method} ${route.path}`;
        const answer = await send(route, method, { headers: { accept: 'text/html', authorization: `Bearer ${token}` } });
        expect({ what, status: answer.status }).toEqual({ what, status: 406 });
        expect({ what, type: answer.headers.get('content-type') }).toEqual({ what, type: expect.stringMatching(/^application\/problem\+json/) });
        expectSecurityHeaders(answer, what);
      }
    }
    const anything = await fetch(`${server.url}/admin/v1/users`, { headers: { accept: '*/*', authorization: `Bearer ${token}` } });
    expect(anything.status).toBe(200);
  });

  test('the admin API: JSON bodies up to http.adminMaxBodyBytes (413) and http.adminMaxJsonDepth levels (400)', async () => {
    const { adminMaxBodyBytes, adminMaxJsonDepth } = server.config.http;
    const post = (body: string) => fetch(`${server.url}/admin/v1/users`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    const nested = (levels: number) => {
      let value: unknown = 'x';
      for (let i = 1; i < levels; i += 1) value = [value];
      return JSON.stringify({ username: 'deep', password: 'a long enough password', email: value });
    };
    const tooDeep = await post(nested(adminMaxJsonDepth + 1));
    expect(tooDeep.status).toBe(400);
    expect((await tooDeep.json() as { detail: string }).detail).toContain(`deeper than ${adminMaxJsonDepth}`);
    // at the limit: validation judges it (an e-mail address is no array)
    const atLimit = await post(nested(adminMaxJsonDepth));
    expect(atLimit.status).toBe(400);
    expect((await atLimit.json() as { detail: string }).detail).toBe('the request body is invalid');
    const big = await post(JSON.stringify({ username: 'big', password: 'p'.repeat(adminMaxBodyBytes) }));
    expect(big.status).toBe(413);
    expect(big.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  test('every answer of the token and introspection endpoints is no-store, successes and errors', async () => {
    const issued = await tokenRequest(server.url, { grant_type: 'client_credentials' }, client);
    expect(issued.status).toBe(200);
    const answers: Array<[string, Answer]> = [
      ['token: issued', issued],
      ['token: wrong secret', await tokenRequest(server.url, { grant_type: 'client_credentials' }, { clientId: client.clientId, clientSecret: 'wrong' })],
      ['token: unknown grant type', await tokenRequest(server.url, { grant_type: 'urn:example:nothing' }, client)],
      ['token: bad code', await tokenRequest(server.url, { grant_type: 'authorization_code', code: 'nothing', redirect_uri: 'https://x.example.test/' }, client)],
    ];
    const introspect = async (body: string, auth = basicAuth(client)) => {
      const res = await fetch(`${server.url}/token/introspection`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body });
      return { status: res.status, headers: res.headers, text: await res.text() };
    };
    answers.push(
      ['introspection: a token', await introspect(`token=${encodeURIComponent(issued.body.access_token!)}`)],
      ['introspection: nothing', await introspect('token=nothing')],
      ['introspection: no token parameter', await introspect('')],
      ['introspection: wrong secret', await introspect('token=x', basicAuth({ clientId: client.clientId, clientSecret: 'wrong' }))],
    );
    for (const path of ['/token', '/token/introspection']) {
      const big = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `x=${'a'.repeat(server.config.http.maxBodyBytes)}` });
      answers.push([`${path}: too large`, { status: big.status, headers: big.headers, text: await big.text() }]);
      const json = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      answers.push([`${path}: JSON`, { status: json.status, headers: json.headers, text: await json.text() }]);
      const get = await fetch(`${server.url}${path}`);
      answers.push([`${path}: GET`, { status: get.status, headers: get.headers, text: await get.text() }]);
    }
    for (const [what, answer] of answers) {
      expect({ what, cacheControl: answer.headers.get('cache-control') }).toEqual({ what, cacheControl: expect.stringContaining('no-store') });
      expectSecurityHeaders(answer, what);
    }
    expect(answers.map(([what, answer]) => [what, answer.status])).toEqual(expect.arrayContaining([
      ['/token: too large', 413], ['/token: JSON', 415], ['/token: GET', 405],
      ['/token/introspection: too large', 413], ['/token/introspection: JSON', 415], ['/token/introspection: GET', 405],
    ]));
  });

  test('parameters: too many 400, one too long 400 (body) or 414 (URL)', async () => {
    const { maxParameters, maxParameterLength } = server.config.http;
    const many = Array.from({ length: maxParameters + 1 }, (_, i) => `p${i}=1`).join('&');
    const tooMany = await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: many });
    expect(tooMany.status).toBe(400);
    expect(tooMany.headers.get('cache-control')).toBe('no-store');
    const tooLong = await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=${'a'.repeat(maxParameterLength + 1)}` });
    expect(tooLong.status).toBe(400);
    const longQuery = await fetch(`${server.url}/auth?state=${'a'.repeat(maxParameterLength + 1)}`);
    expect(longQuery.status).toBe(414);
    // a body without Content-Length is counted as it arrives
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i += 1) controller.enqueue(new TextEncoder().encode(`p${i}=${'a'.repeat(4000)}&`));
        controller.close();
      },
    });
    const streamed = await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: chunks, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    const manyQuery = await fetch(`${server.url}/account?${many}`, { headers: { accept: 'text/html' } });
    expect(manyQuery.status).toBe(400);
    expect(manyQuery.headers.get('content-type')).toMatch(/^text\/html/);
    // at the limits: the request reaches the endpoint (and is judged there)
    const atLimit = Array.from({ length: maxParameters }, (_, i) => (i === 0 ? 'grant_type=client_credentials' : `p${i}=1`)).join('&');
    const fine = await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(client) }, body: atLimit });
    expect(fine.status).not.toBe(400 + 13);
    expect([200, 400]).toContain(fine.status);
  });
});

describe('an error that escapes the provider to Koa (which removes every header before its plain 500)', () => {
  let server: TestServer;
  // an https issuer served as plain http with no trusted proxy (a misconfiguration the start log warns
  // about): the provider's Secure session cookie cannot be set, an error its /session/end does not catch
  beforeAll(async () => { server = await startTestServer({ config: { issuer: 'https://auth.example.test' } }); });
  afterAll(async () => { await server?.stop(); });

  test('still carries the security headers and the request id, and no stack trace', async () => {
    const res = await fetch(`${server.url}/session/end`);
    const answer = { status: res.status, headers: res.headers, text: await res.text() };
    expect(answer.status).toBe(500);
    expectSecurityHeaders(answer, 'GET /session/end');
    expect(answer.headers.get('strict-transport-security')).toMatch(/^max-age=/);
  });
});
