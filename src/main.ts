// Process entry: everything is in the CLI.
import { runCli } from './cli/index.ts';

const code = await runCli(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
