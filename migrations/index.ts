// The migrations, in order. Listed here (not discovered on disk) so that the
// same list runs from the CLI, the server and the tests.
import * as initial from './0001_initial.ts';

export const migrations = [
  { name: '0001_initial', module: initial },
];
