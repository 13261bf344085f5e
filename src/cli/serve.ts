import type { Config } from '../config/index.ts';
import { createLogger } from '../observability/index.ts';
import { startServer } from '../server/index.ts';

/** `tessera serve`: run until SIGINT/SIGTERM, then drain and close the stores. */
export async function serve(config: Config): Promise<void> {
  const logger = createLogger({ level: config.logLevel });
  const running = await startServer(config, { logger });
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    running.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
