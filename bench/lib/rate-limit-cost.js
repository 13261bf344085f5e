// The rate limiter's own cost per request, in this process, without HTTP: what the per-client
// and per-address checks add to a client_credentials request when no limit is reached (a
// limit of 1,000,000 a minute, counters in memory: one counter call per 20,000 requests, as
// with Redis or SQL; 520,000 requests in all, under the limit). Node 24 runs the TypeScript sources directly.
import { createRateLimiter } from '../../src/http/rate-limiter.ts';
import { basicClientId } from '../../src/provider/rate-limits.ts';
import { addressRuleOf } from '../../src/server/rate-limits.ts';
import { memoryRateLimitCounters } from '../../src/tokens/rate-limit-counters.ts';

const RULE = { limit: 1_000_000, windowSeconds: 60 };
const AUTHORIZATION = `Basic ${Buffer.from('bench-client:a-secret-of-some-length-0123456789').toString('base64')}`;

/** µs per request of both checks a client_credentials request passes (per address, per client). */
export async function rateLimitCostMicroseconds({ iterations = 100_000, repeats = 5 } = {}) {
  const counters = memoryRateLimitCounters();
  const perAddress = createRateLimiter({ name: 'tokenPerIp', rule: RULE, counters });
  const perClient = createRateLimiter({ name: 'tokenPerClient', rule: RULE, counters });
  const once = async () => {
    if (addressRuleOf('/token') !== 'tokenPerIp') throw new Error('unexpected rule');
    const a = await perAddress.consume('127.0.0.1');
    const b = await perClient.consume(basicClientId(AUTHORIZATION));
    if (!a.allowed || !b.allowed) throw new Error('refused');
  };
  for (let i = 0; i < 20_000; i += 1) await once(); // warm-up (JIT)
  const samples = [];
  for (let r = 0; r < repeats; r += 1) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i += 1) await once();
    samples.push(Number(process.hrtime.bigint() - started) / 1e3 / iterations);
  }
  samples.sort((x, y) => x - y);
  return { microsecondsPerRequest: Math.round(samples[Math.floor(samples.length / 2)] * 1000) / 1000, iterations, repeats };
}
