export { createAdminRouter, ADMIN_PREFIX, type AdminRouterDeps } from './routes.ts';
export { ensureAdminClient, readAdminCredentials, ADMIN_CLIENT_FILE, DEFAULT_ADMIN_CLIENT_ID, type AdminCredentials } from './bootstrap.ts';
export { requireAdminToken } from './guard.ts';
export { problem } from './problem.ts';
