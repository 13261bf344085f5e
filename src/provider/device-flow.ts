import { parse as parseForm } from 'node:querystring';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditRecord } from '../audit/index.ts';
import { bufferedBodyOf } from '../http/index.ts';
import type { ReplayGuard } from '../tokens/index.ts';
import { pathMayBe, type ProviderStep } from './pipeline.ts';

/*
 * The device authorization grant (RFC 8628) around oidc-provider's deviceFlow
 * feature: the provider issues device and user codes, renders the /device
 * pages through Tessera's views (src/interactions/device-pages.ts) and
 * redeems approved codes once (the token state's atomic consume). What it
 * does not do is told here: it advertises no polling `interval`, and it never
 * answers `slow_down` (RFC 8628 §3.5) however fast a device polls.
 */

export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

/** Longer than any device code the provider issues: such a value is not claimed (it cannot be one). */
const MAX_DEVICE_CODE_LENGTH = 512;
/** what a device's poll holds (the parameter's name), as bytes: searched in every form posted to /token */
const DEVICE_CODE_BYTES = Buffer.from('device_code');
const PERCENT_BYTE = 0x25; // '%'

/** `interval` (RFC 8628 §3.2) in every device authorization answer: what the next step enforces. */
export function advertisePollingInterval(intervalSeconds: number): ProviderStep {
  return {
    name: 'the device authorization answer names the polling interval the token endpoint enforces',
    async middleware(ctx: KoaContextWithOIDC, next) {
      await next();
      if (ctx.oidc?.route !== 'device_authorization' || ctx.status !== 200) return;
      const body = ctx.body as Record<string, unknown> | undefined;
      if (body && typeof body === 'object' && typeof body.device_code === 'string') body.interval = intervalSeconds;
    },
  };
}

/**
 * `slow_down` for a device code polled again within the interval. Each poll
 * claims the device code's slot for `intervalSeconds` in the token state that
 * every instance shares (one atomic claim, keyed by a digest of the code); a
 * poll that finds the slot taken is answered before the provider reads the
 * code, so polling faster costs no lookup and never reaches the grant. The
 * form was read by the input limits, which hand its bytes on.
 */
export function slowDownFastPolling(deps: { tokenPath: string; intervalSeconds: number; replays: ReplayGuard }): ProviderStep {
  const atToken = pathMayBe({ exact: [deps.tokenPath] });
  return {
    name: 'a device polling faster than the interval gets slow_down (RFC 8628 §3.5)',
    // not async: every other request passes on without an await frame (the hot paths do)
    middleware(ctx: KoaContextWithOIDC, next) {
      if (ctx.method !== 'POST' || !atToken(ctx)) return next();
      const body = bufferedBodyOf(ctx.req);
      // every other grant (client_credentials is benchmarked) passes with a byte search, no parse. A name the
      // provider decodes (device%5Fcode) is the same parameter to it, so a body with any escape is parsed too
      if (!body || (!body.includes(DEVICE_CODE_BYTES) && !body.includes(PERCENT_BYTE))) return next();
      return claimOrSlowDown(ctx, next, body);
    },
  };
  async function claimOrSlowDown(ctx: KoaContextWithOIDC, next: () => Promise<void>, body: Buffer): Promise<void> {
    const form = parseForm(body.toString('utf8'));
    const deviceCode = form.device_code;
    if (form.grant_type !== DEVICE_CODE_GRANT_TYPE || typeof deviceCode !== 'string' || !deviceCode || deviceCode.length > MAX_DEVICE_CODE_LENGTH) return next();
    // the separator keeps this claim apart from the DPoP and assertion claims in the same guard
    if (await deps.replays.claimOnce(`device-poll\u0000${deviceCode}`, deps.intervalSeconds)) return next();
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      error: 'slow_down',
      error_description: `polling too fast: wait at least ${deps.intervalSeconds + 5} seconds between requests (RFC 8628 §3.5)`,
    };
    return undefined;
  }
}

/** the routes of the device flow's pages: /device (GET, POST) and /device/:uid (the resume after sign-in) */
const USER_ROUTES = new Set(['code_verification', 'device_resume']);

/**
 * A form posted to /device, or a resume at /device/:uid, by a browser without
 * a live provider session (no session cookie, or an expired one):
 * oidc-provider refuses it, then fails saving the form token it made for the page it shows
 * instead, a 500 ("persist can only be called on previously persisted
 * Sessions"). The person is sent to the code entry page, which starts a
 * session and a new form; nothing was looked up.
 */
export function restartCodeEntryWithoutSession(): ProviderStep {
  return {
    name: 'a code posted to /device without a session starts the code entry again',
    async middleware(ctx: KoaContextWithOIDC, next) {
      try {
        await next();
      } catch (error) {
        if (!USER_ROUTES.has(ctx.oidc?.route ?? '') || !(error instanceof TypeError) || !error.message.startsWith('persist can only be called')) throw error;
        ctx.set('Cache-Control', 'no-store');
        ctx.status = 303;
        ctx.redirect(ctx.oidc.urlFor('code_verification'));
      }
    },
  };
}

interface DeviceCodeEntity { clientId?: string; accountId?: string; grantId?: string; scope?: string; error?: string }

/**
 * device.approved when a person's approval is stored on the device code (the
 * device can now redeem it), device.denied when the person chose Deny (on the
 * confirmation page or at consent) or the sign-in failed for the code. Never
 * the device code or the user code.
 */
export function recordDeviceDecisions(audit: { enqueue(event: AuditRecord): void } | undefined): ProviderStep {
  return {
    name: 'device authorizations approved or denied are audited',
    async middleware(ctx: KoaContextWithOIDC, next) {
      await next();
      if (!audit || !USER_ROUTES.has(ctx.oidc?.route ?? '')) return;
      const code = ctx.oidc.entities?.DeviceCode as DeviceCodeEntity | undefined;
      if (!code) return;
      const clientId = code.clientId ?? null;
      if (code.error) {
        const accountId = (ctx.oidc.session as { accountId?: string } | undefined)?.accountId ?? null;
        audit.enqueue({ type: 'device.denied', actor: accountId, subject: accountId, clientId, details: { error: code.error } });
      } else if (code.accountId) {
        audit.enqueue({
          type: 'device.approved', actor: code.accountId, subject: code.accountId, clientId,
          details: { grant_id: code.grantId, scope: code.scope },
        });
      }
    },
  };
}
