import { describe, expect, test } from '@jest/globals';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { createLogger } from '../../src/observability/index.ts';
import { claimedByRouters, frontDoor } from '../../src/server/front-door.ts';
import type { NodeHandler } from '../../src/http/index.ts';

interface Answer { status: number; body: string; headers: Headers }

async function serve(handler: NodeHandler, requests: Array<string | { path: string; headers: Record<string, string> }>): Promise<Answer[]> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address() as AddressInfo;
  try {
    return await Promise.all(requests.map(async (request) => {
      const { path, headers } = typeof request === 'string' ? { path: request, headers: {} } : request;
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
      return { status: res.status, body: await res.text(), headers: res.headers };
    }));
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => { server.close(resolve); });
  }
}

const answerWith = (body: string, status = 200): NodeHandler => (_req, res) => { res.statusCode = status; res.end(body); };

function capturingLogger() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => { lines.push(line); } } });
  return { logger, lines };
}

describe('the front door sends Tessera paths to its app and everything else to the provider', () => {
  test('claimed first segments, case-insensitively as the routers match; others go to the provider', async () => {
    const own = new Router();
    own.get('/healthz', (ctx) => { ctx.body = 'healthz'; });
    own.get('/interaction/:uid', (ctx) => { ctx.body = `interaction ${ctx.params.uid}`; });
    const admin = new Router({ prefix: '/admin/v1' });
    admin.use(async (_ctx, next) => next());
    admin.get('/users', (ctx) => { ctx.body = 'users'; });
    const isTesseraPath = claimedByRouters([own, admin]);
    expect(['/healthz', '/HEALTHZ', '/interaction/abc', '/admin/v1/users', '/admin/v1/nothing'].map(isTesseraPath)).toEqual([true, true, true, true, true]);
    expect(['/token', '/.well-known/openid-configuration', '/', '/auth?x=/healthz'].map(isTesseraPath)).toEqual([false, false, false, false]);

    const { logger } = capturingLogger();
    const handler = frontDoor({ logger, https: false, isTesseraPath, tessera: answerWith('tessera'), provider: answerWith('provider') });
    const answers = await serve(handler, ['/healthz', '/interaction/abc?x=1', '/token', '/.well-known/openid-configuration']);
    expect(answers.map((a) => a.body)).toEqual(['tessera', 'tessera', 'provider', 'provider']);
  });

  test('a router with a layer that does not start with a literal segment claims everything', () => {
    const catchAll = new Router();
    catchAll.get('/:anything', (ctx) => { ctx.body = 'router'; });
    expect(claimedByRouters([catchAll])('/token')).toBe(true);
  });
});

describe('what every response gets', () => {
  test('a request id (a safe incoming one is kept) and the security headers, HSTS only on https', async () => {
    const { logger } = capturingLogger();
    const handler = (https: boolean) => frontDoor({ logger, https, isTesseraPath: () => false, tessera: answerWith('t'), provider: answerWith('p') });
    const [plain, kept, unsafe] = await serve(handler(false), ['/', { path: '/', headers: { 'x-request-id': 'client-id-123' } }, { path: '/', headers: { 'x-request-id': 'bad id <script>' } }]);
    expect(plain.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(kept.headers.get('x-request-id')).toBe('client-id-123');
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(plain.headers.get('x-content-type-options')).toBe('nosniff');
    expect(plain.headers.get('x-frame-options')).toBe('DENY');
    expect(plain.headers.get('referrer-policy')).toBe('no-referrer');
    expect(plain.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    // Tessera's own script files only (/assets/passkeys.js): no inline script, no other origin
    expect(plain.headers.get('content-security-policy')).toContain("script-src 'self';");
    expect(plain.headers.get('content-security-policy')).toContain("connect-src 'self';");
    expect(plain.headers.get('content-security-policy')).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(plain.headers.get('strict-transport-security')).toBeNull();
    const [secure] = await serve(handler(true), ['/']);
    expect(secure.headers.get('strict-transport-security')).toContain('max-age=');
  });

  test('one access-log line per request with its id, method, path, status and duration; no query string', async () => {
    const { logger, lines } = capturingLogger();
    const handler = frontDoor({ logger, https: false, isTesseraPath: () => false, tessera: answerWith('t'), provider: answerWith('created', 201) });
    await serve(handler, [{ path: '/token?code=secret-code', headers: { 'x-request-id': 'req-12345678' } }]);
    await new Promise((resolve) => { setImmediate(resolve); });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]);
    expect(line).toMatchObject({ msg: 'request', requestId: 'req-12345678', method: 'GET', path: '/token', status: 201 });
    expect(typeof line.ms).toBe('number');
    expect(lines[0]).not.toContain('secret-code');
  });

  test('an app that fails outright gives a generic 500 with no stack, and the failure is logged', async () => {
    const { logger, lines } = capturingLogger();
    const failing: NodeHandler = async () => { throw new Error('boom at /secret/path'); };
    const handler = frontDoor({ logger, https: false, isTesseraPath: () => false, tessera: answerWith('t'), provider: failing });
    const [answer] = await serve(handler, ['/token']);
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toEqual({ error: 'server_error', error_description: 'Something went wrong on our side.' });
    expect(answer.body).not.toContain('boom');
    expect(lines.some((l) => l.includes('unhandled error'))).toBe(true);
  });
});
