import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import { userCodePage, confirmDevicePage, deviceConnectedPage, WRONG_USER_CODE_MESSAGE } from '../../views/device.ts';
import { allowedScopes } from '../clients/index.ts';
import { pageRequestId } from './page-errors.ts';
import { describeScope } from './scopes.ts';
import { isSelfRegistered } from './interaction-details.ts';

/*
 * The device flow's pages (RFC 8628 §3.3), which oidc-provider renders at
 * /device and /device/:uid, in Tessera's look: wired as the deviceFlow
 * feature's userCodeInputSource, userCodeConfirmSource and successSource
 * (src/provider/features.ts). The provider's own forms are not used: they
 * carry an inline event handler the CSP refuses. The forms here post the same
 * fields (xsrf, user_code, confirm / abort) to the same action.
 */

/** The names of oidc-provider's re-render errors (lib/helpers/re_render_errors.js) that mean "this code will not do". */
const UNUSABLE_CODE_ERRORS = new Set(['NoCodeError', 'NotFoundError', 'ExpiredError', 'AlreadyUsedError']);

export interface DevicePagesDeps {
  /** a resource server's human name for the confirmation page */
  resourceName?: (identifier: string) => Promise<string | undefined>;
}

const xsrfOf = (ctx: KoaContextWithOIDC): string => String((ctx.oidc.session?.state as { secret?: unknown } | undefined)?.secret ?? '');

function sendHtml(ctx: KoaContextWithOIDC, page: string): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'html';
  ctx.body = page;
}

const asList = (value: unknown): string[] => {
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
};

export function devicePages(deps: DevicePagesDeps = {}) {
  /** `userCodeInputSource`: the code entry, first or again after an error */
  async function userCodeInputSource(ctx: KoaContextWithOIDC, _form: string, out?: { error?: string }, err?: Error & { userCode?: string }): Promise<void> {
    let error: string | undefined;
    let notice: string | undefined;
    if (err && UNUSABLE_CODE_ERRORS.has(err.name)) {
      // one message, whether the code never existed, expired or was used: no hint about codes nearby
      error = WRONG_USER_CODE_MESSAGE;
    } else if (err?.name === 'AbortedError') {
      notice = 'You denied the request: the device got no access to your account.';
      ctx.status = 200;
    } else if (err || out) {
      error = ctx.status >= 500
        ? 'Something went wrong on our side. Type the code again in a moment.'
        : 'This request could not be completed. Type the code your device shows again.';
    }
    sendHtml(ctx, userCodePage({
      action: ctx.oidc.urlFor('code_verification'),
      xsrf: xsrfOf(ctx),
      userCode: err && UNUSABLE_CODE_ERRORS.has(err.name) ? err.userCode : undefined,
      error,
      notice,
      requestId: pageRequestId(ctx),
    }));
  }

  /** `userCodeConfirmSource`: who asks and for what, before anything is signed in or granted */
  async function userCodeConfirmSource(ctx: KoaContextWithOIDC, _form: string, client: Client, deviceInfo: unknown, userCode: string): Promise<void> {
    const params = ((ctx.oidc.entities as { DeviceCode?: { params?: Record<string, unknown> } }).DeviceCode?.params) ?? {};
    // what the client may be given at all: a scope outside its allow-list is never issued, so it is not shown
    const scopes = allowedScopes(asList(params.scope), client).map((name) => ({ name, description: describeScope(name) }));
    const resources = await Promise.all(asList(params.resource).map(async (identifier) => ({
      identifier,
      name: (await deps.resourceName?.(identifier).catch(() => undefined)) || identifier,
    })));
    const ip = (deviceInfo as { ip?: unknown } | undefined)?.ip;
    sendHtml(ctx, confirmDevicePage({
      action: ctx.oidc.urlFor('code_verification'),
      xsrf: xsrfOf(ctx),
      userCode,
      clientName: client.clientName || client.clientId,
      selfRegistered: isSelfRegistered(client),
      scopes,
      resources,
      deviceAddress: typeof ip === 'string' && ip ? ip : undefined,
      requestId: pageRequestId(ctx),
    }));
  }

  /** `successSource`: the end of the flow in the browser; the device gets its tokens by polling */
  async function successSource(ctx: KoaContextWithOIDC): Promise<void> {
    const client = ctx.oidc.client;
    sendHtml(ctx, deviceConnectedPage({ clientName: client ? client.clientName || client.clientId : undefined, requestId: pageRequestId(ctx) }));
  }

  return { userCodeInputSource, userCodeConfirmSource, successSource };
}
