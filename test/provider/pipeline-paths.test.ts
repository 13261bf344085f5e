import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { onlyWhere, pathMayBe } from '../../src/provider/pipeline.ts';

/*
 * The device flow's and token exchange's steps run only where pathMayBe says
 * their route may be (src/provider/index.ts providerPipeline), so that
 * client_credentials and introspection pass them without an await frame.
 * That is only safe if every path the provider's own router sends to those
 * routes is one pathMayBe admits: checked here against a real oidc-provider,
 * with the spellings a client could use (case, trailing slash, encodings,
 * non-ASCII look-alikes).
 */
describe('pathMayBe agrees with the provider router', () => {
  let server: Server;
  let base: string;
  const seen: Array<{ path: string; route: string | undefined; admitted: boolean; ran: boolean }> = [];
  let provider: Provider;

  beforeAll(async () => {
    provider = new Provider('http://localhost', {
      features: { deviceFlow: { enabled: true }, devInteractions: { enabled: false } },
      clients: [{ client_id: 'c', client_secret: 's', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] }],
    });
    const devicePaths = [provider.pathFor('code_verification'), provider.pathFor('device_authorization')];
    const tokenPath = provider.pathFor('token');
    const mayServe = pathMayBe({ exact: [tokenPath], under: devicePaths });
    let ran = false;
    provider.use(async (ctx, next) => {
      ran = false;
      const admitted = mayServe(ctx);
      try {
        await next();
      } finally {
        // a route that fails (this bare provider has no device pages set up) was still routed
        seen.push({ path: ctx.path, route: ctx.oidc?.route, admitted, ran });
      }
    });
    provider.use(onlyWhere(mayServe, {
      name: 'marks the requests it ran on',
      middleware: async (_ctx, next) => { ran = true; await next(); },
    }).middleware as Parameters<Provider['use']>[0]);
    server = createServer(provider.callback());
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => { server.close(resolve); });
  });

  const spellings = [
    '/token', '/token/', '/TOKEN', '/ToKeN/', '/token//', '/%74oken', '/to%6Ben', '/to\u212Aen',
    '/device/auth', '/DEVICE/AUTH/', '/Device/Auth', '/device', '/DEVICE/', '/device/abc', '/DeViCe/abc/',
    '/d%65vice', '/device%2Fauth', '/token/introspection', '/TOKEN/INTROSPECTION/', '/session/end', '/jwks', '/auth',
  ];

  const ROUTED = new Set(['POST /token', 'POST /TOKEN', 'POST /ToKeN/', 'POST /DEVICE/AUTH/', 'POST /Device/Auth', 'GET /device', 'GET /DEVICE/']);

  test.each(spellings)('%s: routed to the token or a device route only if admitted, and the step ran exactly when admitted', async (path) => {
    for (const method of ['GET', 'POST']) {
      seen.length = 0;
      await fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('c:s').toString('base64')}` },
        body: method === 'POST' ? 'grant_type=client_credentials' : undefined,
      });
      expect(seen).toHaveLength(1);
      const [entry] = seen;
      const served = ['token', 'device_authorization', 'code_verification', 'device_resume'].includes(entry.route ?? '');
      if (served) expect(entry.admitted).toBe(true);
      // not vacuous: these spellings do reach the routes (POST /token, POST /device/auth, GET /device)
      if (ROUTED.has(`${method} ${path}`)) expect(served).toBe(true);
      expect(entry.ran).toBe(entry.admitted);
    }
  });

  test('the hot paths other than /token are not admitted', () => {
    const mayServe = pathMayBe({ exact: [provider.pathFor('token')], under: [provider.pathFor('code_verification'), provider.pathFor('device_authorization')] });
    for (const path of ['/token/introspection', '/token/revocation', '/me', '/jwks', '/auth', '/session/end']) {
      expect(mayServe({ path })).toBe(false);
    }
    expect(mayServe({ path: '/token' })).toBe(true);
    expect(mayServe({ path: '/device/xyz' })).toBe(true);
  });
});
