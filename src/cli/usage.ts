/** A command line that cannot be run as given: exit code 2 and the usage text (of its command group, when known). */
export class UsageError extends Error {
  readonly usage?: string;
  constructor(message: string, usage?: string) {
    super(message);
    this.usage = usage;
  }
}

/** node:util parseArgs reports bad command lines with these codes. */
export const isUsageError = (error: unknown) =>
  error instanceof UsageError || /^ERR_PARSE_ARGS_/.test(String((error as { code?: unknown }).code ?? ''));
