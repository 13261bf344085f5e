import type { Config } from '../config/index.ts';
import { adminApiFor, AdminApiError, type AdminApi } from './admin-client.ts';
import type { CommandContext } from './output.ts';
import { commandsIn, isUsageError, usageFor, UsageError } from './usage.ts';
import { didYouMean } from './suggest.ts';
import { usersCommand, USERS_USAGE } from './users.ts';
import { clientsCommand, CLIENTS_USAGE } from './clients.ts';
import { resourcesCommand, RESOURCES_USAGE } from './resources.ts';
import { grantsCommand, GRANTS_USAGE } from './grants.ts';
import { tokensCommand, TOKENS_USAGE } from './tokens.ts';
import { keysCommand, KEYS_USAGE } from './keys.ts';
import { auditCommand, AUDIT_USAGE } from './audit.ts';
import { webhooksCommand, WEBHOOKS_USAGE } from './webhooks.ts';
import { sessionsCommand, SESSIONS_USAGE } from './sessions.ts';
import { registrationCommand, REGISTRATION_USAGE } from './registration.ts';

type Command = (args: string[], cli: CommandContext) => Promise<number>;

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  users: { run: usersCommand, usage: USERS_USAGE },
  clients: { run: clientsCommand, usage: CLIENTS_USAGE },
  resources: { run: resourcesCommand, usage: RESOURCES_USAGE },
  grants: { run: grantsCommand, usage: GRANTS_USAGE },
  sessions: { run: sessionsCommand, usage: SESSIONS_USAGE },
  tokens: { run: tokensCommand, usage: TOKENS_USAGE },
  keys: { run: keysCommand, usage: KEYS_USAGE },
  audit: { run: auditCommand, usage: AUDIT_USAGE },
  webhooks: { run: webhooksCommand, usage: WEBHOOKS_USAGE },
  registration: { run: registrationCommand, usage: REGISTRATION_USAGE },
};

export const ADMIN_COMMANDS = [
  USERS_USAGE, RESOURCES_USAGE, CLIENTS_USAGE, GRANTS_USAGE, SESSIONS_USAGE, TOKENS_USAGE, KEYS_USAGE, AUDIT_USAGE, WEBHOOKS_USAGE, REGISTRATION_USAGE,
  // a note, not an entry: indented further (see usage.ts)
  `
    Admin commands call the admin API of the server at ISSUER with the admin
    credentials from TESSERA_ADMIN_CLIENT_ID/TESSERA_ADMIN_CLIENT_SECRET or
    $KEYS_DIR/admin-client.json.`,
].join('\n');

export interface AdminCommandIo {
  stdin?: CommandContext['stdin'];
  stdout?: CommandContext['stdout'];
  stderr?: CommandContext['stderr'];
  env?: NodeJS.ProcessEnv;
}

/** An error answer of the admin API, on stderr: its problem JSON with --json, readable lines otherwise. */
function reportProblem(error: AdminApiError, cli: CommandContext): void {
  if (cli.json) {
    cli.stderr.write(`${JSON.stringify({ status: error.status, ...error.problem })}\n`);
    return;
  }
  cli.stderr.write(`tessera: ${error.message}\n`);
  for (const field of error.problem.errors ?? []) cli.stderr.write(`  ${field.field}: ${field.message}\n`);
}

/** Runs `tessera <group> <subcommand> ...`; returns the exit code. */
export async function runAdminCommand(config: Config, command: string, args: string[], output: { json: boolean }, io: AdminCommandIo = {}): Promise<number> {
  const group = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!group) throw new UsageError(`unknown command "${command}"${didYouMean(command, Object.keys(COMMANDS))}`);
  const [sub] = args;
  const subcommands = commandsIn(group.usage, [command]);
  if (!sub) throw new UsageError(`"${command}" needs a subcommand: ${subcommands.join(', ')}`, group.usage);
  if (!subcommands.includes(sub)) throw new UsageError(`unknown command "${command} ${sub}"${didYouMean(sub, subcommands, (s) => `"${command} ${s}"`)}`, group.usage);
  let api: AdminApi | undefined;
  const cli: CommandContext = {
    // made on first use: usage errors, `keys rotate` and `keys retire` need no credentials
    get api() { return (api ??= adminApiFor(config, io.env)); },
    keysDir: config.keysDir,
    ttl: config.ttl,
    json: output.json,
    stdin: io.stdin ?? process.stdin,
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
  };
  try {
    return await group.run(args, cli);
  } catch (error) {
    // a bad command line gets the usage of its own subcommand, not the whole list
    if (isUsageError(error)) throw new UsageError(error.message, usageFor(group.usage, [command, sub]) ?? group.usage);
    if (!(error instanceof AdminApiError)) throw error;
    reportProblem(error, cli);
    return 1;
  }
}
