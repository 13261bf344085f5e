import type { Server } from 'node:http';
import type { NodeHandler } from '../http/index.ts';
import type { Logger } from '../observability/index.ts';

/** Whether the process is shutting down: /readyz answers 503 from that moment (src/observability/health.ts). */
export interface DrainState {
  readonly draining: boolean;
  begin(): void;
}

export function createDrainState(): DrainState {
  let draining = false;
  return {
    get draining() { return draining; },
    begin() { draining = true; },
  };
}

/**
 * Once shutdown has begun every response says `Connection: close`: a
 * keep-alive client learns to open its next connection elsewhere (to an
 * instance the load balancer still sends to) instead of having it cut.
 */
export function closingConnections(state: DrainState, next: NodeHandler): NodeHandler {
  return (req, res) => {
    if (state.draining) {
      res.setHeader('Connection', 'close');
      // also when an app's error handler removes every header (Koa does): Node then writes `Connection: close` itself
      res.shouldKeepAlive = false;
    }
    return next(req, res);
  };
}

export interface ShutdownTimings {
  /** serving goes on this long after /readyz turned 503, so load balancers notice and stop sending */
  readonly drainDelayMs: number;
  /** in-flight requests get this long to finish once the listener is closed; then their connections are cut */
  readonly gracePeriodMs: number;
}

export interface ShutdownOutcome {
  /** true when requests were still running at the end of the grace period and were cut */
  readonly graceExpired: boolean;
}

/** What shutdown() does beyond the listener: the stores etc., in start.ts's order. */
export interface ShutdownSteps {
  server: Server;
  state: DrainState;
  logger: Logger;
  /** everything after the listener (webhooks, timers, stores), last opened first */
  closeTheRest: () => Promise<void>;
}

/**
 * The orderly stop: /readyz 503 at once; keep serving for drainDelayMs;
 * stop listening and close idle keep-alive connections; let in-flight requests
 * finish within gracePeriodMs (then cut what is left); close the stores last.
 * hurry() (a second signal) skips what is left of both waits.
 */
export function createShutdown(steps: ShutdownSteps, timings: ShutdownTimings): { run(): Promise<ShutdownOutcome>; hurry(): void } {
  let hurry: () => void = () => {};
  const hurried = new Promise<void>((resolve) => { hurry = resolve; });
  let running: Promise<ShutdownOutcome> | undefined;

  const wait = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    void hurried.then(() => { clearTimeout(timer); resolve(); });
  });

  const run = async (): Promise<ShutdownOutcome> => {
    const { server, state, logger } = steps;
    state.begin();
    logger.info({ drainDelayMs: timings.drainDelayMs }, 'shutdown: /readyz answers 503; serving on until load balancers have noticed');
    await wait(timings.drainDelayMs);

    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    logger.info({ gracePeriodMs: timings.gracePeriodMs }, 'shutdown: listener closed; waiting for requests in flight');
    // a connection that finishes its request is closed by its Connection: close answer (closingConnections)
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    await Promise.race([closed, wait(timings.gracePeriodMs)]);
    clearInterval(sweep);
    // the wait ended first (or was hurried): what is still open is cut
    const stillOpen = await new Promise<number>((resolve) => server.getConnections((_error, count) => resolve(count ?? 0)));
    const graceExpired = stillOpen > 0;
    if (graceExpired) {
      logger.warn('shutdown: grace period over; cutting the connections still open');
      server.closeAllConnections();
      await closed;
    }
    await steps.closeTheRest();
    logger.info({ graceExpired }, 'shutdown: stores closed');
    return { graceExpired };
  };

  return { run: () => (running ??= run()), hurry: () => hurry() };
}

/**
 * SIGTERM and SIGINT start the shutdown. Some orchestrators send a signal
 * twice in quick succession: a repeat within `repeatWindowMs` is ignored; a
 * later one hurries the shutdown (an operator who means it).
 */
export function onStopSignals(handlers: { start(signal: string): void; hurry(signal: string): void }, repeatWindowMs = 1000): () => void {
  let startedAt: number | undefined;
  const listener = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (startedAt === undefined) {
      startedAt = now;
      handlers.start(signal);
    } else if (now - startedAt > repeatWindowMs) {
      handlers.hurry(signal);
    }
  };
  process.on('SIGTERM', listener);
  process.on('SIGINT', listener);
  return () => {
    process.off('SIGTERM', listener);
    process.off('SIGINT', listener);
  };
}
