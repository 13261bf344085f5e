import { loadConfig, ConfigError } from '../config/index.ts';
import { runAdminCommand, ADMIN_COMMANDS } from './admin-commands.ts';
import { isUsageError, type UsageError } from './usage.ts';

const USAGE = `usage: tessera <command> [options]

  serve                      start the server (applies pending migrations first)
  migrate                    apply pending database migrations
${ADMIN_COMMANDS}

  --json                     machine-readable output on stdout`;

/** Parses argv and runs the command; returns the process exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  try {
    const config = loadConfig();
    // serve and migrate load the server and database code; admin commands,
    // which only talk HTTP, start faster without it
    if (command === 'serve') {
      const { serve } = await import('./serve.ts');
      await serve(config);
      return -1; // keep running
    }
    const json = rest.includes('--json');
    if (command === 'migrate') {
      const { migrate } = await import('./migrate.ts');
      await migrate(config, { json });
      return 0;
    }
    return await runAdminCommand(config, command, rest.filter((a) => a !== '--json'), { json });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`tessera: ${error.message}`);
      return 1;
    }
    if (isUsageError(error)) {
      const usage = (error as UsageError).usage ? `usage:\n${(error as UsageError).usage}` : USAGE;
      console.error(`tessera: ${(error as Error).message}\n\n${usage}`);
      return 2;
    }
    console.error(`tessera: ${(error as Error).message}`);
    return 1;
  }
}

