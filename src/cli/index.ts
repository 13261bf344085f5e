import { loadConfig, ConfigError } from '../config/index.ts';
import { runAdminCommand, ADMIN_COMMANDS } from './admin-commands.ts';
import { commandsIn, isUsageError, usageFor, wantsHelp } from './usage.ts';
import { none, parse } from './args.ts';
import { didYouMean } from './suggest.ts';
import { packageVersion } from './version.ts';
import { tryCommand, TRY_USAGE } from './try.ts';

const USAGE = `usage: tessera <command> [options]

  serve                      start the server (applies pending migrations first)
  migrate [--json]           apply pending database migrations
${TRY_USAGE}
${ADMIN_COMMANDS}

  --json                     machine-readable output on stdout
  --help, -h                 the usage of a command: tessera users --help, tessera users create -h
  --version, -V              the version of Tessera`;

const TOP_LEVEL_FLAGS = ['help', 'version', 'json'];

/**
 * Help and command-line mistakes are answered before the configuration is
 * read: `tessera users --help` works wherever the environment is incomplete.
 * Commands are those the usage text lists (see usage.ts).
 */
function answerWithoutRunning(command: string | undefined, rest: string[]): number | undefined {
  if (command === '--version' || command === '-V') {
    console.log(`tessera ${packageVersion()}`);
    return 0;
  }
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    // `tessera help users create` is `tessera users create --help`
    const topic = command === 'help' ? rest : [];
    if (!topic.length || !commandsIn(USAGE).includes(topic[0])) {
      console.log(USAGE);
      return command ? 0 : 2;
    }
    return answerWithoutRunning(topic[0], [...topic.slice(1), '--help']);
  }
  if (!commandsIn(USAGE).includes(command)) {
    const message = command.startsWith('-')
      ? `unknown option ${command}${didYouMean(command.replace(/^-+/, ''), TOP_LEVEL_FLAGS, (f) => `--${f}`)}`
      : `unknown command "${command}"${didYouMean(command, commandsIn(USAGE))}`;
    console.error(`tessera: ${message}\n\n${USAGE}`);
    return 2;
  }
  if (wantsHelp(rest)) {
    // the subcommand's entries when it has some (`users create`), else the command's
    const sub = rest.find((arg) => !arg.startsWith('-'));
    console.log(`usage:\n${(sub && usageFor(USAGE, [command, sub])) || usageFor(USAGE, [command])}`);
    return 0;
  }
  return undefined;
}

/** Parses argv and runs the command; returns the process exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const answered = answerWithoutRunning(command, rest);
  if (answered !== undefined) return answered;
  try {
    const config = loadConfig();
    // serve and migrate load the server and database code; admin commands,
    // which only talk HTTP, start faster without it
    if (command === 'serve') {
      none(parse(rest.filter((a) => a !== '--json'), {}).positionals);
      const { serve } = await import('./serve.ts');
      await serve(config);
      return -1; // keep running
    }
    const json = rest.includes('--json');
    if (command === 'migrate') {
      none(parse(rest.filter((a) => a !== '--json'), {}).positionals);
      const { migrate } = await import('./migrate.ts');
      await migrate(config, { json });
      return 0;
    }
    if (command === 'try') return await tryCommand(config, rest.filter((a) => a !== '--json'), { json }, process);
    return await runAdminCommand(config, command, rest.filter((a) => a !== '--json'), { json });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`tessera: ${error.message}`);
      return 1;
    }
    if (isUsageError(error)) {
      // the usage of the command that was mistyped, not the whole list
      const usage = error.usage ?? usageFor(USAGE, [command]);
      console.error(`tessera: ${error.message}\n\n${usage ? `usage:\n${usage}` : USAGE}`);
      return 2;
    }
    console.error(`tessera: ${(error as Error).message}`);
    return 1;
  }
}

