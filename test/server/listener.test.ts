// Issue 13: keep-alive and header timeouts above common load balancers' idle
// timeouts (60 s), from config.http, on the server Tessera listens with.
import { describe, test, expect, afterEach } from '@jest/globals';
import { request } from 'node:http';
import { startTestServer, type TestServer } from '../support/server.ts';

/** The Keep-Alive header of a keep-alive answer (what a load balancer or client reads). */
function keepAliveHeaderOf(url: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/healthz`, { headers: { connection: 'keep-alive' }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers['keep-alive'] as string | undefined));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the listener', () => {
  let server: TestServer | undefined;
  afterEach(async () => { await server?.stop(); server = undefined; });

  test('defaults: keep-alive 65 s, headers 66 s, requests 30 s; the Keep-Alive header says 65', async () => {
    server = await startTestServer();
    expect(server.server.keepAliveTimeout).toBe(65_000);
    expect(server.server.headersTimeout).toBe(66_000);
    expect(server.server.requestTimeout).toBe(30_000);
    expect(await keepAliveHeaderOf(server.url)).toBe('timeout=65');
  });

  test('from config.http', async () => {
    server = await startTestServer({ config: { http: { keepAliveTimeoutMs: 75_000, headersTimeoutMs: 76_000, requestTimeoutMs: 20_000 } } });
    expect(server.server.keepAliveTimeout).toBe(75_000);
    expect(server.server.headersTimeout).toBe(76_000);
    expect(server.server.requestTimeout).toBe(20_000);
    expect(await keepAliveHeaderOf(server.url)).toBe('timeout=75');
  });
});
