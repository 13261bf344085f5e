// The machine's Postgres and Redis that tests (and the bench) use, and whether
// they answer. No jest here: bench/ imports this module outside jest.
import { createConnection } from 'node:net';

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** True when something accepts TCP connections at host:port within the timeout. */
export function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function hostAndPort(url: string, defaultPort: number): [string, number] {
  const u = new URL(url);
  return [u.hostname, Number(u.port || defaultPort)];
}

export const postgresUp = () => reachable(...hostAndPort(POSTGRES_URL, 5432));
export const redisUp = () => reachable(...hostAndPort(REDIS_URL, 6379));
