import type { Context } from 'koa';
import type { default as Provider } from 'oidc-provider';
import { expiredRequest } from './page-errors.ts';
import { clientIdHost } from '../clients/index.ts';

/** An interaction as the provider hands it out (its uid, prompt, params, session, result). */
export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * The browser's interaction (from its interaction cookie), when it is the one
 * the path names: a form of an older sign-in, or another tab's, gets the page
 * that says the request expired.
 */
export async function interactionOfPath(provider: Provider, ctx: Context & { params: Record<string, string> }): Promise<Interaction> {
  const interaction = await provider.interactionDetails(ctx.req, ctx.res);
  if (interaction.uid !== ctx.params.uid) throw expiredRequest();
  return interaction;
}

export const clientIdOf = (interaction: Interaction): string | undefined =>
  (typeof interaction.params.client_id === 'string' ? interaction.params.client_id : undefined);

/** The name the pages show for the client a person signs in to. */
export async function clientNameOf(provider: Provider, interaction: Interaction): Promise<string> {
  const clientId = clientIdOf(interaction) ?? '';
  const client = clientId ? await provider.Client.find(clientId).catch(() => undefined) : undefined;
  // a client ID metadata document's name is the client's own claim: its URL's host goes with it
  const host = clientIdHost(clientId);
  if (host) return client?.clientName ? `${client.clientName} (${host})` : host;
  return client?.clientName || clientId || 'an application';
}

/** A client stored as registered by itself (RFC 7591): no administrator chose or checked its name. */
export const isSelfRegistered = (client: unknown): boolean =>
  (client as { dynamically_registered?: unknown } | undefined)?.dynamically_registered === true;

/**
 * For a client that registered itself: where the person goes after answering
 * (the redirect URI's host, or its scheme for a native app), the one thing on
 * the consent page such a client's registrant could not choose freely to look
 * like someone else. Undefined for a client an administrator registered.
 */
export async function selfRegistrationOf(provider: Provider, interaction: Interaction): Promise<{ returnTo?: string } | undefined> {
  const clientId = clientIdOf(interaction);
  const client = clientId ? await provider.Client.find(clientId).catch(() => undefined) : undefined;
  if (!isSelfRegistered(client)) return undefined;
  const redirect = typeof interaction.params.redirect_uri === 'string' ? URL.parse(interaction.params.redirect_uri) : null;
  return { returnTo: redirect ? redirect.host || redirect.protocol.slice(0, -1) : undefined };
}
