import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type { default as Provider, KoaContextWithOIDC } from 'oidc-provider';
import { loginPage, INCORRECT_CREDENTIALS_MESSAGE, tooManyAttemptsMessage } from '../../views/login.ts';
import { consentPage } from '../../views/consent.ts';
import type { AuditRecord } from '../audit/index.ts';
import { csrfTokenFor, isValidCsrfToken } from './csrf.ts';
import { formField, lockoutWaitSeconds } from './forms.ts';
import { completeSignIn, finishInteraction } from './sign-in-completion.ts';
import { passkeySignInUrls } from './passkey-routes.ts';
import { describeResourceScopes, describeScopes } from './scopes.ts';
import { expiredRequest, interactionBoundary, PageError, pageRequestId, sendPage, staleForm, wrongStep } from './page-errors.ts';

export type VerifyCredentialsResult =
  | { ok: true; accountId: string }
  | { ok: false; reason: 'invalid' | 'locked'; retryAfterSeconds?: number };

export interface InteractionRouterDeps {
  provider: Provider;
  accounts: {
    verifyCredentials(username: string, password: string, context: { ip: string; clientId?: string; via?: 'login_page' }): Promise<VerifyCredentialsResult>;
  };
  /** Dedicated secret for interaction CSRF tokens; shared by all instances behind a load balancer. */
  csrfSecret: string;
  /** Human name of a resource server (API) for the consent page. */
  resourceName?: (identifier: string) => Promise<string | undefined>;
  /** where consent is recorded (consent.given); sign-ins are recorded by verifyCredentials */
  audit?: { enqueue(event: AuditRecord): void };
  /** the sign-in page offers "Sign in with a passkey" (src/interactions/passkey-routes.ts) */
  passkeysAvailable?: boolean;
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

// Bounds what we echo back and hand to the password hasher; the body limit bounds the rest.
const MAX_USERNAME_LENGTH = 256;
const MAX_PASSWORD_LENGTH = 1024;

export function createInteractionRouter(deps: InteractionRouterDeps): Router {
  const { provider, accounts, csrfSecret } = deps;
  if (!csrfSecret) throw new Error('createInteractionRouter: csrfSecret is required');

  const router = new Router();
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });

  async function loadInteraction(ctx: Context & { params: Record<string, string> }): Promise<Interaction> {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) throw expiredRequest();
    return interaction;
  }

  const clientIdOf = (interaction: Interaction): string | undefined =>
    (typeof interaction.params.client_id === 'string' ? interaction.params.client_id : undefined);

  async function clientNameOf(interaction: Interaction): Promise<string> {
    const clientId = clientIdOf(interaction) ?? '';
    const client = clientId ? await provider.Client.find(clientId).catch(() => undefined) : undefined;
    return client?.clientName || clientId || 'an application';
  }

  function requireCsrf(ctx: Context, interaction: Interaction): void {
    if (!isValidCsrfToken(csrfSecret, interaction.uid, formField(ctx, 'csrf'))) throw staleForm();
  }

  function renderLogin(
    ctx: Context,
    interaction: Interaction,
    clientName: string,
    extra: { status?: number; username?: string; error?: string } = {},
  ): void {
    sendPage(ctx, extra.status ?? 200, loginPage({
      action: `/interaction/${encodeURIComponent(interaction.uid)}/login`,
      csrfToken: csrfTokenFor(csrfSecret, interaction.uid),
      clientName,
      username: extra.username,
      error: extra.error,
      requestId: pageRequestId(ctx),
      passkey: deps.passkeysAvailable ? passkeySignInUrls(interaction.uid) : undefined,
    }));
  }

  async function renderConsent(ctx: Context, interaction: Interaction, clientName: string): Promise<void> {
    const details = interaction.prompt.details as ConsentDetails;
    const resources = await Promise.all(
      Object.entries(details.missingResourceScopes ?? {}).map(async ([identifier, scopes]) => ({
        identifier,
        name: (await deps.resourceName?.(identifier)) || identifier,
        scopes: describeResourceScopes(scopes),
      })),
    );
    const base = `/interaction/${encodeURIComponent(interaction.uid)}`;
    sendPage(ctx, 200, consentPage({
      action: `${base}/confirm`,
      abortAction: `${base}/abort`,
      csrfToken: csrfTokenFor(csrfSecret, interaction.uid),
      clientName,
      scopes: describeScopes(details.missingOIDCScope ?? []),
      resources,
      claims: details.missingOIDCClaims ?? [],
      requestId: pageRequestId(ctx),
    }));
  }

  router.get('/interaction/:uid', interactionBoundary, async (ctx) => {
    const interaction = await loadInteraction(ctx);
    const clientName = await clientNameOf(interaction);
    switch (interaction.prompt.name) {
      case 'login': {
        const hint = interaction.params.login_hint;
        const username = typeof hint === 'string' && hint.length <= MAX_USERNAME_LENGTH ? hint : undefined;
        renderLogin(ctx, interaction, clientName, { username });
        return;
      }
      case 'consent':
        await renderConsent(ctx, interaction, clientName);
        return;
      default:
        throw new Error(`interaction prompt "${interaction.prompt.name}" has no page`);
    }
  });

  router.post('/interaction/:uid/login', interactionBoundary, parseForm, async (ctx) => {
    const interaction = await loadInteraction(ctx);
    requireCsrf(ctx, interaction);
    if (interaction.prompt.name !== 'login') throw wrongStep();

    const username = formField(ctx, 'username').trim().slice(0, MAX_USERNAME_LENGTH);
    const password = formField(ctx, 'password');
    const clientName = await clientNameOf(interaction);

    const result: VerifyCredentialsResult = username && password && password.length <= MAX_PASSWORD_LENGTH
      ? await accounts.verifyCredentials(username, password, { ip: ctx.ip, clientId: clientIdOf(interaction), via: 'login_page' })
      : { ok: false, reason: 'invalid' };

    if (result.ok) {
      await completeSignIn(provider, ctx, { accountId: result.accountId, methods: ['pwd'] });
      return;
    }
    if (result.reason === 'locked') {
      const seconds = lockoutWaitSeconds(result.retryAfterSeconds);
      ctx.set('Retry-After', String(seconds));
      renderLogin(ctx, interaction, clientName, { status: 429, username, error: tooManyAttemptsMessage(seconds) });
      return;
    }
    renderLogin(ctx, interaction, clientName, { username, error: INCORRECT_CREDENTIALS_MESSAGE });
  });

  router.post('/interaction/:uid/confirm', interactionBoundary, parseForm, async (ctx) => {
    const interaction = await loadInteraction(ctx);
    requireCsrf(ctx, interaction);
    if (interaction.prompt.name !== 'consent') throw wrongStep();

    const accountId = interaction.session?.accountId;
    const clientId = interaction.params.client_id;
    if (!accountId || typeof clientId !== 'string') throw expiredRequest();

    const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
    const grant = existing && existing.accountId === accountId && existing.clientId === clientId
      ? existing
      : new provider.Grant({ accountId, clientId });

    const details = interaction.prompt.details as ConsentDetails;
    if (details.missingOIDCScope?.length) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims?.length) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    deps.audit?.enqueue({
      type: 'consent.given', actor: accountId, subject: accountId, clientId,
      details: {
        grant_id: grantId,
        scopes: details.missingOIDCScope ?? [],
        claims: details.missingOIDCClaims ?? [],
        resource_scopes: details.missingResourceScopes ?? {},
      },
    });

    // Merged with the login submission of the same authorization request: without it,
    // prompt=login or max_age would ask for the login again after consent.
    await finishInteraction(provider, ctx, { consent: { grantId } }, true);
  });

  router.post('/interaction/:uid/abort', interactionBoundary, parseForm, async (ctx) => {
    const interaction = await loadInteraction(ctx);
    requireCsrf(ctx, interaction);
    await finishInteraction(provider, ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  });

  return router;
}
