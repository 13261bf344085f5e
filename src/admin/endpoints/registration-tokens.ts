import type { InitialAccessToken } from '../../registration/index.ts';
import { iso, notFound, page, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { pathId } from '../schemas/common.ts';
import { createdRegistrationTokenSchema, createRegistrationTokenSchema, registrationTokenSchema, type CreateRegistrationTokenBody } from '../schemas/registration-tokens.ts';
import { listQuerySchema } from '../schemas/users.ts';

/** What the API shows of an initial access token: never its value (not stored) nor its digest. */
export function registrationTokenView(token: InitialAccessToken) {
  return {
    id: token.id,
    uses: token.uses,
    uses_left: token.usesLeft,
    expires_at: iso(token.expiresAt),
    expired: token.expiresAt.getTime() <= Date.now(),
    description: token.description,
    created_by: token.createdBy,
    created_at: iso(token.createdAt),
  };
}

/**
 * Initial access tokens (RFC 7591 §1.2) for DYNAMIC_REGISTRATION=token: an
 * admin creates one and hands it to whoever may register a client (or N).
 */
export function registrationTokenRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { initialAccessTokens, audit } = deps.services;
  const tag = 'registration';
  return [
    {
      method: 'post', path: '/registration-tokens', tag, summary: 'Create an initial access token for dynamic client registration; the answer holds it, once',
      body: createRegistrationTokenSchema,
      responses: { 201: { description: 'the token, with initial_access_token', schema: createdRegistrationTokenSchema } },
      async handle(ctx, { body, actor }: AdminInput<CreateRegistrationTokenBody>) {
        const { token, record } = await initialAccessTokens.create({ uses: body.uses, ttlSeconds: body.ttl_seconds, description: body.description, createdBy: actor });
        await audit.record({
          type: 'registration_token.created', actor, subject: record.id,
          details: { uses: record.uses, expires_at: iso(record.expiresAt), mode: deps.config.dynamicRegistration.mode },
        });
        ctx.set('Cache-Control', 'no-store');
        reply(ctx, 201, { ...registrationTokenView(record), initial_access_token: token });
      },
    },
    {
      method: 'get', path: '/registration-tokens', tag, summary: 'List initial access tokens (newest first; never their values)',
      query: listQuerySchema,
      responses: { 200: { description: 'a page of tokens', schema: registrationTokenSchema, list: true } },
      async handle(ctx, { query }: AdminInput<unknown, { limit: number; offset: number }>) {
        reply(ctx, 200, page((await initialAccessTokens.list(query)).map(registrationTokenView), query));
      },
    },
    {
      method: 'delete', path: '/registration-tokens/:id', tag, summary: 'Revoke an initial access token (clients registered with it stay)',
      params: { id: pathId },
      responses: { 204: { description: 'revoked' }, 404: { description: 'no such token' } },
      async handle(ctx, { params: p, actor }) {
        // looked up first: delete()'s answer is wrong on PGlite (see clients.ts)
        const token = await initialAccessTokens.find(p.id);
        if (!token) throw notFound('registration token');
        await initialAccessTokens.revoke(p.id);
        await audit.record({ type: 'registration_token.revoked', actor, subject: p.id, details: { uses_left: token.usesLeft } });
        reply(ctx, 204);
      },
    },
  ];
}
