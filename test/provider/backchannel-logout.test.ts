import { createServer, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { describe, expect, test } from '@jest/globals';
import { backchannelLogoutUriProblem, outgoingFetch } from '../../src/provider/backchannel-logout.ts';

describe('where logout tokens may go', () => {
  test.each([
    ['https://rp.example.com/backchannel', false, undefined],
    ['https://rp.example.com:8443/logout?tenant=1', false, undefined],
    ['http://rp.example.com/logout', false, 'must be an https URL'],
    ['http://127.0.0.1:3000/logout', false, 'BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK'],
    ['https://localhost/logout', false, 'BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK'],
    ['http://127.0.0.1:3000/logout', true, undefined],
    ['http://localhost:3000/logout', true, undefined],
    ['http://[::1]:3000/logout', true, undefined],
    ['http://10.0.0.1/logout', true, 'must be an https URL'],
    ['https://rp.example.com/logout#x', false, 'fragment'],
    ['https://a:b@rp.example.com/logout', false, 'credentials'],
    ['javascript:alert(1)', true, 'must be an https URL'],
    ['//rp.example.com/logout', false, 'absolute URL'],
  ])('%s (loopback allowed: %s)', (uri, allowLoopback, problem) => {
    const answer = backchannelLogoutUriProblem(uri, { allowLoopback });
    if (problem === undefined) expect(answer).toBeUndefined();
    else expect(answer).toContain(problem);
  });

  test("the provider's SSRF guard stays on every request but one to a loopback host with loopback allowed", async () => {
    const seen: Array<{ url: string; dispatcher: unknown }> = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit & { dispatcher?: unknown }) => {
      seen.push({ url: String(input), dispatcher: init?.dispatcher });
      return new Response(null, { status: 204 });
    }) as typeof fetch;
    try {
      const guard = { name: 'the provider\'s guard' };
      const init = () => ({ method: 'POST', dispatcher: guard }) as unknown as RequestInit;
      await outgoingFetch({ allowLoopback: true })('http://127.0.0.1:9/logout', init());
      await outgoingFetch({ allowLoopback: true })('https://rp.example.com/logout', init());
      await outgoingFetch({ allowLoopback: false })('http://127.0.0.1:9/logout', init());
      await outgoingFetch({ allowLoopback: true })('http://192.168.1.1/logout', init());
      expect(seen.map((s) => s.dispatcher)).toEqual([undefined, guard, guard, guard]);
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  // T181: the guard is dropped for a loopback URL (development); a redirect from there must not reach what the guard would refuse
  const otherAddress = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  (otherAddress ? test : test.skip)('with loopback allowed, a loopback URL that redirects elsewhere is not followed without the guard (T181)', async () => {
    let reached = 0;
    const listen = (server: Server, host: string) => new Promise<number>((resolve) => server.listen(0, host, () => resolve((server.address() as { port: number }).port)));
    const internal = createServer((_req, res) => { reached++; res.end('{"keys":[]}'); });
    const internalPort = await listen(internal, otherAddress!);
    const loopback = createServer((_req, res) => res.writeHead(302, { location: `http://${otherAddress}:${internalPort}/latest/meta-data` }).end());
    const loopbackPort = await listen(loopback, '127.0.0.1');
    try {
      const init = { method: 'GET', dispatcher: { name: 'the provider\'s guard' } } as unknown as RequestInit;
      await expect(outgoingFetch({ allowLoopback: true })(`http://127.0.0.1:${loopbackPort}/jwks`, init)).rejects.toThrow();
      expect(reached).toBe(0);
      // a request that asks for redirects as they are (back-channel logout) still gets the 302
      const manual = await outgoingFetch({ allowLoopback: true })(`http://127.0.0.1:${loopbackPort}/logout`, { ...init, redirect: 'manual' } as RequestInit);
      expect(manual.status).toBe(302);
      expect(reached).toBe(0);
    } finally {
      loopback.close();
      internal.close();
    }
  });
});
