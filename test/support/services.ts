// What a jest test needs to run against the machine's services: their
// addresses (from local-services.ts, which stays free of jest for bench/) and
// `describeWithService`.
import { describe, test } from '@jest/globals';

export { POSTGRES_URL, REDIS_URL, reachable, postgresUp, redisUp } from './local-services.ts';

/**
 * `describe` for tests that need a real service. With CI=true a missing service
 * is a failing test, never a silent skip; elsewhere the block is skipped with a
 * visible message.
 */
export function describeWithService(service: string, up: boolean) {
  if (up) return describe;
  if (process.env.CI === 'true') {
    return (name: string, _fn: () => void) => describe(name, () => {
      test(`${service} is reachable`, () => {
        throw new Error(`${service} is not reachable, and CI=true requires it`);
      });
    });
  }
  return (name: string, fn: () => void) => {
    console.warn(`SKIPPED "${name}": ${service} is not reachable (set CI=true to make this a failure)`);
    describe.skip(name, fn);
  };
}
