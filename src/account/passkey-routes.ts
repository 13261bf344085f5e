import type Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type { Account } from '../accounts/index.ts';
import type { PasskeyService } from '../mfa/index.ts';
import { formField, interactionBoundary, jsonObjectField, PageError } from '../interactions/index.ts';
import { PASSKEY_PATHS, type PasskeySectionData } from '../../views/passkeys.ts';

/*
 * Passkeys on /account: the section's data, and its three forms — WebAuthn
 * options (JSON, for the script), the new passkey (the browser's attestation
 * as a form field), removal. Each is a POST with the page's CSRF token, by the
 * signed-in person, for their own account only.
 */

export interface AccountPasskeyHelpers<SignedIn extends { account: Account }> {
  passkeys: PasskeyService;
  /** the signed-in person, or undefined once a stale-form page is the answer */
  requireSignedIn(ctx: Context): Promise<SignedIn | undefined>;
  /** throws the stale-form page unless the form's CSRF token is this session's */
  requireCsrf(ctx: Context, who: SignedIn): void;
}

/** What the section says after an action, by a fixed code in the query: nothing a link can make the page say. */
const NOTICES: Readonly<Record<string, string>> = Object.freeze({
  added: 'Your passkey is added.',
  removed: 'The passkey is removed. Your authenticator may still list it; it no longer signs you in.',
});
const ERRORS: Readonly<Record<string, string>> = Object.freeze({
  'not-added': 'No passkey was added: it could not be checked, or the page had expired. Try again.',
  'too-many': 'Your account has as many passkeys as it can have. Remove one to add another.',
  'already-added': 'That passkey is already registered.',
});

const REGISTER_REFUSALS: Readonly<Record<string, keyof typeof ERRORS>> = { too_many: 'too-many', already_registered: 'already-added' };

/** An attestation or assertion is a few KB; options and removals are small. */
const parsePasskeyForm = bodyParser({ enableTypes: ['form'], formLimit: '64kb' });
const MAX_CREDENTIAL_FIELD = 60_000;

export async function passkeySectionData(passkeys: PasskeyService, ctx: Context, accountId: string): Promise<PasskeySectionData> {
  const code = typeof ctx.query.passkey === 'string' ? ctx.query.passkey : '';
  return {
    available: passkeys.available,
    passkeys: await passkeys.list(accountId),
    notice: Object.hasOwn(NOTICES, code) ? NOTICES[code] : undefined,
    error: Object.hasOwn(ERRORS, code) ? ERRORS[code] : undefined,
  };
}

const unavailable = () => new PageError(404, 'Passkeys are not available', 'This server cannot offer passkeys. Open your account page to go on.');
const noSuchPasskey = () => new PageError(404, 'No such passkey', 'Your account has no such passkey. Open your account page and try again.');

export function registerPasskeyRoutes<SignedIn extends { account: Account }>(router: Router, helpers: AccountPasskeyHelpers<SignedIn>): void {
  const { passkeys } = helpers;
  const back = (ctx: Context, code: string) => {
    ctx.status = 303;
    ctx.redirect(`/account?passkey=${code}#passkeys-heading`);
  };

  router.post(PASSKEY_PATHS.options, interactionBoundary, parsePasskeyForm, async (ctx) => {
    const who = await helpers.requireSignedIn(ctx);
    if (!who) return;
    helpers.requireCsrf(ctx, who);
    if (!passkeys.available) throw unavailable();
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await passkeys.registrationOptions({ id: who.account.id, username: who.account.username });
  });

  router.post(PASSKEY_PATHS.register, interactionBoundary, parsePasskeyForm, async (ctx) => {
    const who = await helpers.requireSignedIn(ctx);
    if (!who) return;
    helpers.requireCsrf(ctx, who);
    if (!passkeys.available) throw unavailable();
    const credential = jsonObjectField(ctx, 'credential', MAX_CREDENTIAL_FIELD);
    const result = credential
      ? await passkeys.register(who.account.id, credential, formField(ctx, 'name'))
      : { ok: false as const, reason: 'no_credential' };
    back(ctx, result.ok ? 'added' : REGISTER_REFUSALS[result.reason] ?? 'not-added');
  });

  router.post(PASSKEY_PATHS.remove, interactionBoundary, parsePasskeyForm, async (ctx) => {
    const who = await helpers.requireSignedIn(ctx);
    if (!who) return;
    helpers.requireCsrf(ctx, who);
    if (!await passkeys.remove(who.account.id, formField(ctx, 'passkey'))) throw noSuchPasskey();
    back(ctx, 'removed');
  });
}
