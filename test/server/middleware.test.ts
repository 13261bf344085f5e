import { describe, expect, test } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import { createLogger } from '../../src/observability/index.ts';
import { accessLog, skipRoutersUnlessClaimed } from '../../src/server/middleware.ts';

async function serve(app: Koa, paths: string[]): Promise<Array<{ status: number; body: string }>> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => { server.once('listening', resolve); });
  const { port } = server.address() as AddressInfo;
  try {
    return await Promise.all(paths.map(async (path) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, body: await res.text() };
    }));
  } finally {
    await new Promise((resolve) => { server.close(resolve); });
  }
}

describe('requests no router claims go straight to the provider', () => {
  function appWith(routers: Router[]) {
    const app = new Koa();
    app.use(skipRoutersUnlessClaimed(routers, async (ctx) => { ctx.body = 'provider'; }));
    for (const router of routers) app.use(router.routes());
    app.use(async (ctx) => { ctx.body = 'provider after the routers'; });
    return app;
  }

  test('claimed first segments reach the routers, case-insensitively as the routers match; others skip them', async () => {
    const own = new Router();
    own.get('/healthz', (ctx) => { ctx.body = 'healthz'; });
    own.get('/interaction/:uid', (ctx) => { ctx.body = `interaction ${ctx.params.uid}`; });
    const admin = new Router({ prefix: '/admin/v1' });
    admin.use(async (_ctx, next) => next());
    admin.get('/users', (ctx) => { ctx.body = 'users'; });
    const answers = await serve(appWith([own, admin]), ['/healthz', '/HEALTHZ', '/interaction/abc', '/admin/v1/users', '/admin/v1/nothing', '/token', '/.well-known/openid-configuration']);
    expect(answers.map((a) => a.body)).toEqual([
      'healthz', 'healthz', 'interaction abc', 'users', 'provider after the routers', 'provider', 'provider',
    ]);
  });

  test('a router with a layer that does not start with a literal segment claims everything', async () => {
    const catchAll = new Router();
    catchAll.get('/:anything', (ctx) => { ctx.body = `router ${ctx.params.anything}`; });
    const answers = await serve(appWith([catchAll]), ['/token']);
    expect(answers[0].body).toBe('router token');
  });
});

describe('access log', () => {
  test('one line per request with its id, method, path, status and duration; no query string', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => { lines.push(line); } } });
    const app = new Koa();
    app.use(async (ctx, next) => { ctx.state.requestId = 'req-12345678'; await next(); });
    app.use(accessLog(logger));
    app.use(async (ctx) => { ctx.status = 201; ctx.body = 'ok'; });
    await serve(app, ['/token?code=secret-code']);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]);
    expect(line).toMatchObject({ msg: 'request', requestId: 'req-12345678', method: 'GET', path: '/token', status: 201 });
    expect(typeof line.ms).toBe('number');
    expect(lines[0]).not.toContain('secret-code');
  });
});
