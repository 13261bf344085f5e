import type { AdapterPayload } from 'oidc-provider';

/**
 * oidc-provider copies the session's id, the value of the session cookie, into
 * every Interaction it creates for a signed-in session (`session.cookie`).
 * Whoever holds that value is signed in, so it must not be stored; nothing
 * reads it back (the provider finds an interaction's session by `session.uid`,
 * and requests carry their own cookie). Both token-state stores drop it.
 */
export function withoutSessionCookie(model: string, payload: AdapterPayload): AdapterPayload {
  const session = payload.session as { cookie?: unknown } | undefined;
  if (model !== 'Interaction' || !session || typeof session !== 'object' || !('cookie' in session)) return payload;
  const { cookie: _cookie, ...rest } = session;
  return { ...payload, session: rest } as AdapterPayload;
}
