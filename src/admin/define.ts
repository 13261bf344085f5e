import type { Context } from 'koa';
import type { CertificateOf } from '../http/index.ts';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { KeyMaterial } from '../keys/index.ts';
import type { Revocation, SessionDirectory, TokenState } from '../tokens/index.ts';
import type { Logger } from '../observability/index.ts';
import type { AccountRepository, PasswordHasher } from '../accounts/index.ts';
import type { ClientRepository, ResourceServerRepository } from '../clients/index.ts';
import type { AuditLog, WebhookRepository } from '../audit/index.ts';
import type { PasswordResets } from '../account/index.ts';
import type { MfaService } from '../mfa/index.ts';
import type { InitialAccessTokens } from '../registration/index.ts';
import type { FieldError } from './problem.ts';
import type { JsonSchema } from './schemas/common.ts';

/** The domain services the admin endpoints work with (the composition root passes its own). */
export interface AdminServices {
  accounts: AccountRepository;
  hasher: PasswordHasher;
  clients: ClientRepository;
  resources: ResourceServerRepository;
  audit: AuditLog;
  webhooks: WebhookRepository;
  /** one-time password reset links (src/account) */
  passwordResets: PasswordResets;
  /** second factors (src/mfa): what a user has enrolled, and the admin's reset */
  mfa: Pick<MfaService, 'factorsOf' | 'factorsOfAccounts' | 'reset'>;
  /** initial access tokens for dynamic client registration (src/registration) */
  initialAccessTokens: InitialAccessTokens;
}

export interface AdminRouterDeps {
  config: Config;
  provider: Provider;
  keys: KeyMaterial;
  tokenState: TokenState;
  services: AdminServices;
  revocation: Revocation;
  sessions: SessionDirectory;
  logger: Logger;
  /** a request's client certificate (mTLS); absent: mTLS off, and certificate-bound tokens are refused */
  certificateOf?: CertificateOf;
}

/** What a handler gets: input already validated against the route's schemas. */
export interface AdminInput<Body = unknown, Query = unknown> {
  body: Body;
  query: Query;
  params: Record<string, string>;
  /** client_id of the admin token: the actor of the audit events it causes */
  actor: string;
}

/**
 * One admin endpoint. The same declaration is registered on the router and
 * rendered into the OpenAPI document, so the two cannot drift apart.
 */
export interface AdminRoute {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** koa-router path below /admin/v1, e.g. /users/:idOrUsername */
  path: string;
  tag: string;
  summary: string;
  /** path parameters; one that does not match is a 404 (it cannot name anything) */
  params?: Record<string, JsonSchema>;
  query?: JsonSchema;
  body?: JsonSchema;
  /** contentType: of a 2xx answer that is not JSON (default application/json) */
  responses: Record<number, { description: string; schema?: JsonSchema; list?: boolean; contentType?: string }>;
  handle(ctx: Context, input: AdminInput<any, any>): Promise<void>;
}

/** Thrown by handlers; rendered as application/problem+json. */
export class AdminProblem extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail?: string;
  readonly errors?: FieldError[];
  constructor(status: number, title: string, detail?: string, errors?: FieldError[]) {
    super(detail ?? title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
  }
}

export const notFound = (what: string) => new AdminProblem(404, 'Not Found', `no such ${what}`);

export function reply(ctx: Context, status: number, body?: unknown): void {
  ctx.status = status;
  if (body !== undefined) ctx.body = body;
}

/** List answers share one shape. */
export const page = <T>(items: T[], query: { limit: number; offset: number }) => ({ items, limit: query.limit, offset: query.offset });

export const iso = (date: Date | null | undefined) => (date ? date.toISOString() : null);
