/** The OpenID Connect scopes Tessera knows; every other scope belongs to a resource server. */
export const OIDC_SCOPES = ['openid', 'profile', 'email', 'roles', 'offline_access'];
