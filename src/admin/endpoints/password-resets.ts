import { DEFAULT_RESET_LINK_TTL, MAX_RESET_LINK_TTL, MIN_RESET_LINK_TTL } from '../../account/index.ts';
import { iso, notFound, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { object, pathId, type JsonSchema } from '../schemas/common.ts';

interface PasswordResetBody { expires_in?: number }

const passwordResetBodySchema: JsonSchema = {
  title: 'CreatePasswordReset',
  ...object({
    expires_in: {
      type: 'integer', minimum: MIN_RESET_LINK_TTL, maximum: MAX_RESET_LINK_TTL, default: DEFAULT_RESET_LINK_TTL,
      description: `seconds the link works (default ${DEFAULT_RESET_LINK_TTL})`,
    },
  }),
};

const passwordResetSchema: JsonSchema = {
  title: 'PasswordReset',
  type: 'object',
  properties: {
    url: { type: 'string', format: 'uri', description: 'the one-time link; shown once, give it to the person only' },
    expires_at: { type: 'string', format: 'date-time' },
  },
};

/**
 * A one-time password reset link for a person to open in a browser
 * (/account/reset/<token>, src/account). Only the token's digest is stored;
 * the link is in this answer and nowhere else. A new link replaces the
 * user's previous unused one.
 */
export function passwordResetRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { accounts, audit, passwordResets } = deps.services;
  return [{
    method: 'post', path: '/users/:idOrUsername/password-reset', tag: 'users',
    summary: 'Create a one-time password reset link (the previous unused link stops working)',
    params: { idOrUsername: pathId },
    body: passwordResetBodySchema,
    responses: { 201: { description: 'the link and when it expires', schema: passwordResetSchema }, 404: { description: 'no such user' } },
    async handle(ctx, { params: p, body, actor }: AdminInput<PasswordResetBody>) {
      const account = await accounts.findByIdOrUsername(p.idOrUsername);
      if (!account) throw notFound('user');
      const ttlSeconds = body.expires_in ?? DEFAULT_RESET_LINK_TTL;
      const { token, expiresAt } = await passwordResets.create(account.id, { ttlSeconds, createdBy: actor });
      await audit.record({ type: 'user.password_reset_requested', actor, subject: account.id, details: { username: account.username, expires_at: expiresAt.toISOString() } });
      ctx.set('Cache-Control', 'no-store');
      reply(ctx, 201, { url: new URL(`/account/reset/${token}`, deps.config.issuer).href, expires_at: iso(expiresAt) });
    },
  }];
}
