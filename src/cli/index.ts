import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from '../config/index.ts';
import { serve } from './serve.ts';
import { migrate } from './migrate.ts';
import { runAdminCommand, ADMIN_COMMANDS } from './admin-commands.ts';

const USAGE = `usage: tessera <command> [options]

  serve                      start the server (applies pending migrations first)
  migrate                    apply pending database migrations
${ADMIN_COMMANDS}
  --json                     machine-readable output`;

export class UsageError extends Error {}

/** Parses argv and runs the command; returns the process exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  try {
    const config = loadConfig();
    if (command === 'serve') {
      await serve(config);
      return -1; // keep running
    }
    const json = rest.includes('--json');
    if (command === 'migrate') {
      await migrate(config, { json });
      return 0;
    }
    return await runAdminCommand(config, command, rest.filter((a) => a !== '--json'), { json });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`tessera: ${error.message}`);
      return 1;
    }
    if (error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      console.error(`tessera: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`tessera: ${(error as Error).message}`);
    return 1;
  }
}

export { parseArgs };
