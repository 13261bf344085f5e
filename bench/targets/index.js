// The systems under test, in run order. The first one is the reference of every ratio.
//
// A target is { name, description, available?() -> true | reason, start(options) -> instance }
// where start({ jwksFile, cpu, workDir }) starts the system (pinned to `cpu` when given,
// with its files under `workDir`) and resolves to an instance as described in
// ../lib/operations.js, with a stop() method. Unavailable targets are listed as skipped.
import baseline from './baseline.js';
import { tesseraEmbedded, tesseraPgRedis } from './tessera.js';

export const TARGETS = [
  baseline,
  tesseraEmbedded,
  tesseraPgRedis, // skipped when Postgres / Redis are not reachable (see tessera.js)
];
