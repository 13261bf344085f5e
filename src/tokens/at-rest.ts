import type { AdapterPayload } from 'oidc-provider';

/**
 * What both token-state stores keep of a payload: all of it but the raw id
 * (jti) and the user code, bearer secrets that are never at rest (a record is
 * found by their digests, and find puts them back), the consumed mark, which
 * each store keeps apart so that consuming is one atomic step, and an
 * Interaction's session cookie (below).
 */
export function storedPayload(model: string, payload: AdapterPayload): AdapterPayload {
  const { jti: _jti, userCode: _userCode, consumed: _consumed, ...rest } = withoutSessionCookie(model, payload);
  return rest;
}

/**
 * oidc-provider copies the session's id, the value of the session cookie, into
 * every Interaction it creates for a signed-in session (`session.cookie`).
 * Whoever holds that value is signed in, so it must not be stored; nothing
 * reads it back (the provider finds an interaction's session by `session.uid`,
 * and requests carry their own cookie).
 */
function withoutSessionCookie(model: string, payload: AdapterPayload): AdapterPayload {
  const session = payload.session as { cookie?: unknown } | undefined;
  if (model !== 'Interaction' || !session || typeof session !== 'object' || !('cookie' in session)) return payload;
  const { cookie: _cookie, ...rest } = session;
  return { ...payload, session: rest } as AdapterPayload;
}
