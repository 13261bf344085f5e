import type { Config } from '../config/index.ts';
import { createLogger } from '../observability/index.ts';
import { startServer } from '../server/index.ts';
import { onStopSignals } from '../server/shutdown.ts';

/** Beyond the drain delay and the grace period: stores that hang on close do not keep the process. */
const CLOSE_ALLOWANCE_MS = 10_000;

/**
 * `tessera serve`: run until SIGTERM/SIGINT, then the orderly shutdown of
 * src/server/shutdown.ts (/readyz 503, drain delay, in-flight requests
 * finished, stores closed). Exit code 0 when every request finished, 1 when
 * the grace period ran out and connections were cut, or closing failed.
 */
export async function serve(config: Config): Promise<void> {
  const logger = createLogger({ level: config.logLevel });
  const running = await startServer(config, { logger });
  onStopSignals({
    start: (signal) => {
      logger.info({ signal }, 'shutting down');
      const force = setTimeout(() => {
        logger.error('shutdown did not finish in time; exiting');
        process.exit(1);
      }, config.shutdown.drainDelayMs + config.shutdown.gracePeriodMs + CLOSE_ALLOWANCE_MS);
      force.unref();
      running.shutdown().then(
        ({ graceExpired }) => process.exit(graceExpired ? 1 : 0),
        (error: Error) => {
          logger.error({ err: error.message }, 'shutdown failed');
          process.exit(1);
        },
      );
    },
    hurry: (signal) => {
      logger.info({ signal }, 'shutting down now: drain delay and grace period cut short');
      running.hurryShutdown();
    },
  });
}
