// Fixed names shared by the baseline server and its target definition (and reusable by
// Tessera targets, so both systems are configured for the same resources and scopes).
export const API_RESOURCE = 'https://api.bench.test';
export const OPAQUE_RESOURCE = 'https://opaque.bench.test';
export const RESOURCE_SCOPE = 'read write';
export const REDIRECT_URI = 'https://client.bench.test/cb';
export const ACCOUNT_ID = 'bench-user';
// Not part of oidc-provider, which refuses to introspect structured (JWT) tokens.
export const JWT_INTROSPECTION_PATH = '/bench/jwt-introspection';
