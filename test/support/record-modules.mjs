// `node --import ./test/support/record-modules.mjs …`: appends the URL of every
// module the process resolves (import and require alike, through Node's
// synchronous module hooks) to the file named by RECORD_MODULES, one a line.
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env.RECORD_MODULES;
if (!file) throw new Error('record-modules: set RECORD_MODULES to the file to write');
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    appendFileSync(file, `${resolved.url}\n`);
    return resolved;
  },
});
