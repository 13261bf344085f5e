import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { DynamicRegistrationConfig } from '../config/index.ts';
import { allowListOf, authenticatesWithSecret, clientMetadataOf, clientSecretMatches, type ClientRecord, type ClientRepository, type NewClient, type ResourceServerRepository } from '../clients/index.ts';
import { clientMetadataValidator, InvalidClientMetadataError, REGISTRATION_PATH } from '../provider/index.ts';
import { digestMatches, tokenDigest } from '../crypto/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Revocation } from '../tokens/index.ts';
import type { InitialAccessTokens } from './initial-access-tokens.ts';
import { clientOfRegistrationRequest, type RegistrationRefusal } from './policy.ts';

/** Where clients register (RFC 7591) and manage their registration (RFC 7592, /reg/<client_id>). */
export { REGISTRATION_PATH };

export const isRegistrationPath = (path: string) => {
  const lower = path.toLowerCase();
  return lower === REGISTRATION_PATH || lower.startsWith(`${REGISTRATION_PATH}/`);
};

/** Metadata is a flat object of strings and lists of strings: anything deeper is not metadata. */
const MAX_JSON_DEPTH = 4;

export interface RegistrationRouterDeps {
  issuer: string;
  policy: DynamicRegistrationConfig;
  /** request bodies at /reg: at most this many bytes (config.http.maxBodyBytes) */
  maxBodyBytes: number;
  provider: Provider;
  clients: ClientRepository;
  resources: Pick<ResourceServerRepository, 'offer'>;
  initialAccessTokens: InitialAccessTokens;
  revocation: Pick<Revocation, 'revokeGrantsOfClient'>;
  audit: Pick<AuditLog, 'record' | 'enqueue'>;
}

/** An answer of the endpoint: RFC 7591 §3.2.2 / RFC 6750 errors, as JSON, never stored by anyone on the way. */
class RegistrationError extends Error {
  readonly status: number;
  readonly body: Record<string, string>;
  readonly wwwAuthenticate?: string;
  /** the metadata fields at fault (for the audit log) */
  readonly fields: readonly string[];
  constructor(status: number, error: string, description: string, options: { wwwAuthenticate?: string; fields?: readonly string[] } = {}) {
    super(description);
    this.status = status;
    this.body = { error, error_description: description };
    this.wwwAuthenticate = options.wwwAuthenticate;
    this.fields = options.fields ?? [];
  }
}

/** RFC 6750 §3: no token is a bare challenge; a token that is not valid says invalid_token. */
const invalidToken = (given: boolean, description: string) => new RegistrationError(401, 'invalid_token', description, {
  wwwAuthenticate: given ? `Bearer error="invalid_token", error_description="${description}"` : 'Bearer',
});

function bearerTokenOf(ctx: Context): string | undefined {
  const header = ctx.get('authorization');
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  return match?.[1];
}

function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const walk = (node: unknown, depth: number): boolean => {
    if (node === null || typeof node !== 'object') return false;
    if (depth + 1 > limit) return true;
    return (Array.isArray(node) ? node : Object.values(node as Record<string, unknown>)).some((child) => walk(child, depth + 1));
  };
  return walk(value, 0);
}

/** A random value of 256 bits, shown to its holder once and stored as a digest. */
const newRegistrationAccessToken = () => randomBytes(32).toString('base64url');

/** A digest no token has, compared against when a client has none: the answer takes as long either way. */
const NO_DIGEST = tokenDigest(randomBytes(32).toString('base64url'));

/**
 * RFC 7591 §3 and RFC 7592: Tessera's own endpoint (the provider's
 * registration feature writes clients through its adapter, which is
 * read-only here: clients live in SQL with their secrets as digests).
 * Mounted only when config.dynamicRegistration.mode is not off.
 */
export function createRegistrationRouter(deps: RegistrationRouterDeps): Router {
  const { clients, initialAccessTokens, audit, policy } = deps;
  const validate = clientMetadataValidator(deps.provider as never);
  const parseJson = bodyParser({ enableTypes: ['json'], jsonLimit: deps.maxBodyBytes, jsonStrict: true });
  const registrationClientUri = (clientId: string) => `${deps.issuer}${REGISTRATION_PATH}/${encodeURIComponent(clientId)}`;

  async function readBody(ctx: Context): Promise<unknown> {
    if (!ctx.request.is('application/json')) throw new RegistrationError(415, 'invalid_request', 'the request body must be application/json (RFC 7591 §3.1)');
    try {
      await parseJson(ctx, async () => {});
    } catch (error) {
      const { status, type } = error as { status?: number; type?: string };
      if (status === 413 || type === 'entity.too.large') throw new RegistrationError(413, 'invalid_request', `the request body must not exceed ${deps.maxBodyBytes} bytes`);
      throw new RegistrationError(400, 'invalid_client_metadata', 'the request body is not a JSON object');
    }
    if (jsonDepthExceeds(ctx.request.body, MAX_JSON_DEPTH)) throw new RegistrationError(400, 'invalid_client_metadata', 'client metadata does not nest this deep');
    return ctx.request.body;
  }

  /** The policy's verdict, then the provider's own validation of the metadata it would store. */
  async function judge(body: unknown, current?: ClientRecord): Promise<NewClient> {
    const judged = clientOfRegistrationRequest(body, policy, await deps.resources.offer(), current && { public: current.metadata.token_endpoint_auth_method === 'none' });
    if ('refusal' in judged) throw refusalError(judged.refusal);
    try {
      // as the repository will validate it (create/update): with a secret's digest for a confidential client
      const metadata = clientMetadataOf(judged.client, current?.clientId ?? 'registration-probe');
      await validate({ ...metadata, ...(authenticatesWithSecret(metadata.token_endpoint_auth_method) ? { client_secret: NO_DIGEST } : {}), first_party: false, introspect_for: [] });
    } catch (error) {
      if (!(error instanceof InvalidClientMetadataError)) throw error;
      throw refusalError({ error: /redirect_uri/.test(error.message) ? 'invalid_redirect_uri' : 'invalid_client_metadata', description: error.message, fields: ['(metadata)'] });
    }
    return judged.client;
  }

  const refusalError = (refusal: RegistrationRefusal) => new RegistrationError(400, refusal.error, refusal.description, { fields: refusal.fields });

  /** RFC 7591 §3.2.1: what was registered, as the client sees it. Never a stored digest. */
  function informationOf(client: ClientRecord, issued: { clientSecret?: string; registrationAccessToken?: string }) {
    const m = client.metadata;
    const scope = allowListOf(m).join(' ');
    return {
      client_id: client.clientId,
      client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
      // 0: the secret does not expire (RFC 7591 §3.2.1, required with a secret)
      ...(issued.clientSecret ? { client_secret: issued.clientSecret, client_secret_expires_at: 0 } : {}),
      ...(issued.registrationAccessToken ? { registration_access_token: issued.registrationAccessToken } : {}),
      registration_client_uri: registrationClientUri(client.clientId),
      client_name: client.name,
      application_type: m.application_type === 'native' ? 'native' : 'web',
      redirect_uris: m.redirect_uris ?? [],
      post_logout_redirect_uris: m.post_logout_redirect_uris ?? [],
      grant_types: m.grant_types ?? [],
      response_types: m.response_types ?? [],
      token_endpoint_auth_method: m.token_endpoint_auth_method,
      ...(scope ? { scope } : {}),
    };
  }

  /** Refusals are audited (batched: a flood of them must not become a flood of awaited writes). */
  function auditRefusal(actor: string, reason: string, details: Record<string, unknown> = {}, subject?: string) {
    audit.enqueue({ type: 'client.registration_refused', actor, subject: subject ?? null, details: { reason, ...details } });
  }

  function answer(ctx: Context, status: number, body?: unknown) {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    ctx.status = status;
    if (body !== undefined) ctx.body = body;
  }

  /** Turns RegistrationError into its JSON answer; anything else goes on to the error boundary (a 500 without details). */
  const answering = (handler: (ctx: Context) => Promise<void>) => async (ctx: Context) => {
    try {
      await handler(ctx);
    } catch (error) {
      if (!(error instanceof RegistrationError)) throw error;
      if (error.wwwAuthenticate) ctx.set('WWW-Authenticate', error.wwwAuthenticate);
      answer(ctx, error.status, error.body);
    }
  };

  /** The client a registration access token (RFC 7592) manages: only its own, compared in constant time. */
  async function authenticateRegistration(ctx: Context): Promise<ClientRecord> {
    const token = bearerTokenOf(ctx);
    const clientId = String(ctx.params.clientId ?? '');
    const client = clientId.length <= 256 ? await clients.find(clientId) : undefined;
    const matches = token !== undefined && digestMatches(client?.registrationAccessTokenDigest ?? NO_DIGEST, token);
    if (!client || !matches || !client.dynamicallyRegistered || client.disabled) {
      if (token !== undefined) auditRefusal('anonymous', 'invalid_registration_access_token', {}, client?.clientId);
      // one answer whether the client exists or not (RFC 7592 §2: 401 in both cases)
      throw invalidToken(token !== undefined, 'the registration access token is not valid for this client');
    }
    return client;
  }

  const router = new Router();

  router.post(REGISTRATION_PATH, answering(async (ctx) => {
    // JSON only (RFC 7591 §3.1): said before anything else, as every other route refuses a body it does not take (415)
    if (!ctx.request.is('application/json')) throw new RegistrationError(415, 'invalid_request', 'the request body must be application/json (RFC 7591 §3.1)');
    // token mode: the initial access token is checked before the body is read; a use is taken only once the registration is sound
    let initialAccessToken: string | undefined;
    let actor = 'anonymous';
    if (policy.mode === 'token') {
      initialAccessToken = bearerTokenOf(ctx);
      const usable = initialAccessToken && await initialAccessTokens.findUsable(initialAccessToken);
      if (!usable) {
        auditRefusal('anonymous', initialAccessToken ? 'invalid_initial_access_token' : 'no_initial_access_token');
        throw invalidToken(!!initialAccessToken, 'an initial access token from the server\'s administrator is required');
      }
      actor = usable.id;
    }
    let input: NewClient;
    try {
      input = await judge(await readBody(ctx));
    } catch (error) {
      if (error instanceof RegistrationError) auditRefusal(actor, error.body.error, { fields: error.fields });
      throw error;
    }
    const full = () => new RegistrationError(403, 'access_denied', 'no more clients may register themselves here; ask the administrator');
    if (await clients.countDynamic() >= policy.maxClients) {
      auditRefusal(actor, 'too_many_dynamic_clients');
      throw full();
    }
    if (initialAccessToken) {
      // the one atomic step: of simultaneous registrations, only as many as the token has uses left pass
      const consumed = await initialAccessTokens.consume(initialAccessToken);
      if (!consumed) {
        auditRefusal(actor, 'initial_access_token_used_up');
        throw invalidToken(true, 'the initial access token has no use left');
      }
    }
    const registrationAccessToken = newRegistrationAccessToken();
    let created: { client: ClientRecord; clientSecret?: string };
    try {
      created = await clients.create({ ...input, dynamicRegistration: { registeredBy: actor, registrationAccessTokenDigest: tokenDigest(registrationAccessToken) } }, validate);
    } catch (error) {
      if (initialAccessToken) await initialAccessTokens.refund(actor);
      throw error;
    }
    // the cap holds after the fact too: registrations that raced past the count above undo themselves
    if (await clients.countDynamic() > policy.maxClients) {
      await clients.delete(created.client.clientId);
      if (initialAccessToken) await initialAccessTokens.refund(actor);
      auditRefusal(actor, 'too_many_dynamic_clients');
      throw full();
    }
    await audit.record({
      type: 'client.registered', actor, subject: created.client.clientId, clientId: created.client.clientId,
      details: { name: created.client.name, grant_types: input.grantTypes, scopes: input.scopes ?? [], public: !created.clientSecret, application_type: input.applicationType ?? 'web', redirect_uris: input.redirectUris ?? [], mode: policy.mode },
    });
    answer(ctx, 201, informationOf(created.client, { clientSecret: created.clientSecret, registrationAccessToken }));
  }));

  router.get(`${REGISTRATION_PATH}/:clientId`, answering(async (ctx) => {
    const client = await authenticateRegistration(ctx);
    // the registration access token is stored as a digest: the client keeps the one it has (no new one on a read)
    answer(ctx, 200, informationOf(client, {}));
  }));

  router.put(`${REGISTRATION_PATH}/:clientId`, answering(async (ctx) => {
    const current = await authenticateRegistration(ctx);
    const body = await readBody(ctx);
    const request = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    // RFC 7592 §2.2: the client_id must be the client's own; a client_secret, if sent, its current one
    if (request.client_id !== current.clientId) {
      auditRefusal(current.clientId, 'invalid_client_metadata', { fields: ['client_id'] }, current.clientId);
      throw new RegistrationError(400, 'invalid_client_metadata', 'client_id must be the client\'s own client_id');
    }
    if (request.client_secret !== undefined) {
      const digest = (await clients.findProviderMetadata(current.clientId))?.client_secret;
      if (typeof digest !== 'string' || typeof request.client_secret !== 'string' || !clientSecretMatches(digest, request.client_secret)) {
        auditRefusal(current.clientId, 'invalid_client_metadata', { fields: ['client_secret'] }, current.clientId);
        throw new RegistrationError(400, 'invalid_client_metadata', 'client_secret is not the client\'s current secret (a client cannot choose its secret)');
      }
    }
    let input: NewClient;
    try {
      input = await judge(body, current);
    } catch (error) {
      if (error instanceof RegistrationError) auditRefusal(current.clientId, error.body.error, { fields: error.fields }, current.clientId);
      throw error;
    }
    // a new registration access token with every change (RFC 7592 §2.2 allows it): the one just used stops working
    const registrationAccessToken = newRegistrationAccessToken();
    let updated: ClientRecord | undefined;
    try {
      updated = await clients.update(current.clientId, { ...input, dynamicRegistration: { registeredBy: current.registeredBy ?? 'anonymous', registrationAccessTokenDigest: tokenDigest(registrationAccessToken) } }, validate);
    } catch (error) {
      if (!(error instanceof InvalidClientMetadataError)) throw error;
      throw new RegistrationError(400, 'invalid_client_metadata', error.message);
    }
    if (!updated) throw invalidToken(true, 'the registration access token is not valid for this client');
    await audit.record({
      type: 'client.registration_updated', actor: current.clientId, subject: current.clientId, clientId: current.clientId,
      details: { grant_types: input.grantTypes, scopes: input.scopes ?? [], redirect_uris: input.redirectUris ?? [] },
    });
    answer(ctx, 200, informationOf(updated, { registrationAccessToken }));
  }));

  router.delete(`${REGISTRATION_PATH}/:clientId`, answering(async (ctx) => {
    const client = await authenticateRegistration(ctx);
    // deleted first: no new grant can be issued to it while its grants are revoked (as the admin API's delete)
    await clients.delete(client.clientId);
    const revoked = await deps.revocation.revokeGrantsOfClient(client.clientId);
    await audit.record({ type: 'client.registration_deleted', actor: client.clientId, subject: client.clientId, clientId: client.clientId, details: { revoked_grants: revoked } });
    answer(ctx, 204);
  }));

  return router;
}
