#!/usr/bin/env node
// `npx tessera …` from the checkout. Tessera needs Node >= 22 (oidc-provider 9);
// when the node running this is older, re-run with the Node 24 that
// `npm ci` installs into node_modules (the `node` package).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const main = `${root}src/main.ts`;
const major = Number(process.versions.node.split('.')[0]);
const localNode = `${root}node_modules/node/bin/node`;
const nodeBinary = major >= 24 || !existsSync(localNode) ? process.execPath : localNode;

if (nodeBinary === process.execPath && major < 22) {
  console.error(`tessera: Node.js >= 22 is required (this is ${process.version}); run \`npm ci\` first`);
  process.exit(1);
}
// --max-semi-space-size: as `npm start` (V8's default young generation, sized
// for the machine's memory, holds up to 128 MB of garbage between collections)
const result = spawnSync(nodeBinary, ['--max-semi-space-size=16', main, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
