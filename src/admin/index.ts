// The admin folder's public face. The rule for every folder: the barrel
// (index.ts) exports what other folders use, and other folders import only
// through it. Where the barrel would pull in heavy code a caller does not
// need, the folder gives a second, light entry that imports no heavy module,
// is re-exported here, and may be imported directly: here ./credentials.ts
// (node:fs and node:path only), which the CLI's admin commands use so that
// they load neither the admin API nor oidc-provider, argon2, ioredis or knex
// (test/cli/module-loading.test.ts checks it).
export { createAdminRouter, ADMIN_PREFIX, type AdminRouterDeps } from './routes.ts';
export type { AdminServices } from './define.ts';
export { ensureAdminClient, DEFAULT_ADMIN_CLIENT_ID } from './bootstrap.ts';
export { readAdminCredentials, ADMIN_CLIENT_FILE, type AdminCredentials } from './credentials.ts';
export { requireAdminToken } from './guard.ts';
export { problem } from './problem.ts';
