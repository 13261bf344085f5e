import { randomBytes } from 'node:crypto';
import { tokenDigest } from '../crypto/index.ts';

/*
 * Aliases of device codes, handed out by findByUserCode. oidc-provider does
 * not only read what findByUserCode returns: the device flow sets inFlight /
 * accountId on it and saves it under its jti (upsert(jti, ...)), and keeps
 * that jti in the Interaction to find it again. Without a jti, save() would
 * mint a new id and the device polling with its device_code would never see
 * the approval. The raw device code is not stored anywhere, so the jti handed
 * out is a fresh random alias that resolves to the record's key for the
 * record's remaining life. DeviceCode.findByUserCode also compares
 * payload.userCode with what the user typed, so the stores put it back.
 */

/** Aliases start with this. Real ids are nanoids ([A-Za-z0-9_-]), so they can never be mistaken for one. */
const ALIAS_MARK = 'alias.';

export const isAlias = (id: string): boolean => id.startsWith(ALIAS_MARK);

export const newAlias = (): string => ALIAS_MARK + randomBytes(32).toString('base64url');

/**
 * The key (digest) under which the record of `id` lives. An alias resolves to
 * its device code's key through `resolve`; any other id, or an alias that is
 * no longer known, to its own digest.
 */
export async function recordKeyOf(id: string, resolve: (alias: string) => Promise<string | null | undefined>): Promise<string> {
  if (isAlias(id)) {
    const target = await resolve(id);
    if (target) return target;
  }
  return tokenDigest(id);
}
