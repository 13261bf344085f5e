/**
 * Every audit event type Tessera records, in one place: webhook subscriptions
 * name these (an unknown name is refused), `tessera audit list --type` filters
 * by them, and docs/security.md explains them. Add a type here before
 * recording it.
 */
export const AUDIT_EVENT_TYPES = {
  // accounts
  'user.created': 'an admin created an account',
  'user.imported': 'an admin imported an account with an existing password hash',
  'user.updated': "an admin changed an account's e-mail, name or roles",
  'user.disabled': 'an admin disabled an account (its grants and sessions end)',
  'user.enabled': 'an admin enabled an account again',
  'user.deleted': 'an admin erased an account and everything it held',
  'user.password_set': "an admin set a person's password",
  'user.password_reset_requested': 'an admin created a one-time password reset link',
  'user.password_changed': 'a person changed their password (on /account or through a reset link)',
  // clients and resource servers
  'client.created': 'an admin registered a client',
  'client.updated': "an admin changed a client's registration",
  'client.disabled': 'an admin disabled a client (its tokens stop working)',
  'client.enabled': 'an admin enabled a client again',
  'client.deleted': 'an admin deleted a client',
  'client.secret_rotated': "an admin replaced a client's secret",
  'client.registered': 'a client registered itself (RFC 7591; actor: the initial access token\'s id, or anonymous)',
  'client.registration_updated': 'a client replaced its own registration (RFC 7592)',
  'client.registration_deleted': 'a client deleted its own registration (RFC 7592); its grants were revoked',
  'client.registration_refused': 'a dynamic registration, or a request with a registration access token, was refused (the reason; never a token)',
  'registration_token.created': 'an admin created an initial access token for dynamic registration',
  'registration_token.revoked': 'an admin revoked an initial access token',
  'resource.created': 'an admin registered a resource server',
  'resource.updated': 'an admin changed a resource server',
  'resource.deleted': 'an admin deleted a resource server',
  // grants, tokens, sessions
  'grant.revoked': 'one grant was revoked (by an admin or by the person)',
  'grants.revoked': "all of a user's or a client's grants were revoked",
  'token.revoked': 'an admin revoked an access token by its jti',
  'token.issued': 'tokens were issued (grant type, client, subject; never the token)',
  'token.exchanged': 'a client exchanged a person\'s access token for one aimed at another API (RFC 8693; audience, scope, delegation or impersonation; never a token)',
  'token.exchange_refused': 'a token exchange was refused (the error, and what was asked: audience, scope; never a token)',
  'token.reuse_detected': 'a used refresh token was presented again: its grant was revoked',
  'consent.given': 'a person allowed a client access',
  'device.approved': 'a person approved a device authorization (RFC 8628): the device may now get tokens (never a code)',
  'device.denied': 'a device authorization was denied at /device or at consent, or its sign-in failed (never a code)',
  'consent.revoked': 'a person took a client\'s access away on /account',
  'session.ended': 'a sign-in session ended (sign out, by an admin, or by the person)',
  // sign-in
  'signin.succeeded': 'a person signed in (pages or password grant)',
  'signin.failed': 'a sign-in failed (reason code; never the password)',
  // second factors
  'mfa.totp_enabled': 'a person confirmed a TOTP authenticator (with its first code)',
  'mfa.totp_disabled': 'a person turned TOTP off (with a current code or a recovery code)',
  'mfa.recovery_codes_created': 'new recovery codes were created (the previous ones stopped working)',
  'mfa.recovery_code_used': 'a recovery code was used (it works once)',
  'mfa.passkey_added': 'a person registered a passkey',
  'mfa.passkey_removed': 'a person removed a passkey',
  'mfa.reset': "an admin removed every second factor of an account",
  'signin.second_factor_failed': 'a wrong TOTP or recovery code, or a passkey that did not verify (never the code)',
  'account.locked': 'too many failed sign-ins: the account or address is locked for a while',
  // keys and configuration
  'keys.rotated': 'the signing keys changed (staged, activated or retired)',
  'webhook.created': 'an admin subscribed an endpoint to events',
  'webhook.deleted': 'an admin removed a webhook subscription',
  'webhook.redelivered': 'an admin queued a failed webhook delivery again',
} as const;

export type AuditEventType = keyof typeof AUDIT_EVENT_TYPES;

export const isAuditEventType = (type: string): type is AuditEventType => Object.hasOwn(AUDIT_EVENT_TYPES, type);
