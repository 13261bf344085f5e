import type { Config } from '../config/index.ts';

export const ADMIN_COMMANDS = '';

export async function runAdminCommand(_config: Config, command: string, _args: string[], _output: { json: boolean }): Promise<number> {
  throw Object.assign(new Error(`unknown command "${command}"`), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
}
