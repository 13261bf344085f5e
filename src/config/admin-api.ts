// Where the admin API lives, derived from the configuration: the server, its
// guard and the CLI that calls it must agree, and the CLI loads no server code.

/** The admin API's path prefix on the issuer. */
export const ADMIN_API_PATH = '/admin/v1';

/** The resource indicator (audience) of admin tokens. */
export const adminResourceOf = (issuer: string): string => `${issuer}/admin`;
