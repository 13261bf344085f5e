// /account, the person's own page (connected apps, sessions, password), and
// one-time password reset links.
export { createAccountRouter, type AccountRouterDeps } from './routes.ts';
export { accountClientMetadata, ACCOUNT_CLIENT_ID } from './account-client.ts';
export { createPasswordResets, DEFAULT_RESET_LINK_TTL, MIN_RESET_LINK_TTL, MAX_RESET_LINK_TTL, type PasswordResets } from './password-resets.ts';
export { redactSecretPaths } from './secret-paths.ts';
