import type { Interaction } from './interaction-details.ts';
import type { FactorMethod } from '../mfa/index.ts';


/**
 * A sign-in whose first factor is proven (a password, or the session's own
 * sign-in when a client asks for more), waiting for a second factor or for
 * enrollment. It is kept in the interaction itself: server-side, tied to the
 * browser's interaction cookie, expiring with it, and gone once the
 * interaction finishes (interactionResult replaces `result`). Nothing of it
 * reaches the provider: the login result is written only when the sign-in
 * is complete.
 */
export interface PendingSignIn {
  accountId: string;
  /** what was proven so far, in order */
  methods: FactorMethod[];
  /** epoch seconds of the first factor (auth_time) */
  ts: number;
}

const KEY = 'tessera_pending_sign_in';

export async function keepPendingSignIn(interaction: Interaction, pending: PendingSignIn): Promise<void> {
  interaction.result = { ...(interaction.result ?? {}), [KEY]: pending };
  await interaction.persist();
}

export function pendingSignInOf(interaction: Interaction): PendingSignIn | undefined {
  const pending = (interaction.result as Record<string, unknown> | undefined)?.[KEY] as PendingSignIn | undefined;
  return pending && typeof pending.accountId === 'string' && Array.isArray(pending.methods) ? pending : undefined;
}

/** Drops a waiting sign-in (the password form was sent again: the sign-in starts over). */
export async function forgetPendingSignIn(interaction: Interaction): Promise<void> {
  const result = interaction.result as Record<string, unknown> | undefined;
  if (!result || !(KEY in result)) return;
  const { [KEY]: _dropped, ...rest } = result;
  interaction.result = rest;
  await interaction.persist();
}
