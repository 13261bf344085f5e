import type { KoaContextWithOIDC } from 'oidc-provider';
import { PASSWORD_GRANT_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from '../grants/index.ts';
import { DEVICE_CODE_GRANT_TYPE } from './device-flow.ts';
import type { ProviderStep } from './pipeline.ts';

/** What the refusal says, for each grant that Tessera adds or keeps to some clients. */
const REFUSALS: Readonly<Record<string, string>> = {
  [PASSWORD_GRANT_TYPE]: 'the client is not allowed to use the password grant',
  [TOKEN_EXCHANGE_GRANT_TYPE]: 'the client is not allowed to use token exchange',
  [DEVICE_CODE_GRANT_TYPE]: 'the client is not registered for the device authorization grant',
};

/** The grant a request asks for: the device authorization endpoint starts the device grant. */
function askedGrant(oidc: KoaContextWithOIDC['oidc'] | undefined): string | undefined {
  if (oidc?.route === 'device_authorization') return DEVICE_CODE_GRANT_TYPE;
  const grantType = oidc?.route === 'token' ? oidc.params?.grant_type : undefined;
  return typeof grantType === 'string' ? grantType : undefined;
}

/**
 * oidc-provider answers a client whose grant_types lack the grant it asks for
 * with invalid_request, at /token and at /device/auth; RFC 6749 §5.2 (and RFC
 * 8628 §3.2, which refers to it) names unauthorized_client, which tells the
 * client's developer what to fix. Said for the grants in REFUSALS; the
 * provider's own grants keep its answer.
 */
export async function answerUnauthorizedClient(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  await next();
  const { oidc } = ctx;
  const grantType = askedGrant(oidc);
  const refusal = grantType === undefined ? undefined : REFUSALS[grantType];
  const body = ctx.body as { error?: string } | undefined;
  if (refusal && ctx.status === 400 && body?.error === 'invalid_request' && oidc?.client && !oidc.client.grantTypeAllowed(grantType!)) {
    ctx.body = { error: 'unauthorized_client', error_description: refusal };
  }
}

export const answerUnauthorizedClientStep: ProviderStep = {
  name: 'a client not registered for the password, token-exchange or device grant gets unauthorized_client (RFC 6749), not invalid_request',
  middleware: answerUnauthorizedClient,
};
