import type Provider from 'oidc-provider';
import type { Logger } from '../observability/index.ts';
import { requestIdOf } from '../http/index.ts';

/**
 * Provider errors are logged without their token-bearing context. The error
 * object is reduced to its name and message: nothing the client sent is logged.
 */
export function subscribeToProviderEvents(provider: Provider, logger: Logger): void {
  provider.on('server_error', (ctx, error) => {
    logger.error({ requestId: ctx ? requestIdOf(ctx) : undefined, err: { name: error.name, message: error.message, stack: error.stack } }, 'provider server error');
  });
  for (const event of ['grant.error', 'introspection.error', 'revocation.error', 'end_session.error', 'userinfo.error', 'authorization.error']) {
    provider.on(event as 'grant.error', (_ctx: unknown, error: Error & { error_description?: string }) => {
      logger.debug({ event, error: error.name, description: error.error_description }, 'oauth error');
    });
  }
}
