import { UsernameRefusedError, type Account } from '../../accounts/index.ts';
import { NO_SECOND_FACTORS, type SecondFactors } from '../../mfa/index.ts';
import type { FieldError } from '../problem.ts';
import { AdminProblem, iso, notFound, page, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { compileBody } from '../validation.ts';
import { pathId } from '../schemas/common.ts';
import {
  createUserSchema, emptyBodySchema, importUserLineSchema, importUsersSchema, listQuerySchema, setPasswordSchema, updateUserSchema, userSchema,
  type CreateUserBody, type ImportUserLine, type SetPasswordBody, type UpdateUserBody,
} from '../schemas/users.ts';

/** What the API shows of an account's second factors: what is enrolled, never a secret, code or key. */
const secondFactorsView = (factors: SecondFactors) => ({
  totp: factors.totp,
  passkeys: factors.passkeys,
  recovery_codes_left: factors.recoveryCodesLeft,
});

/** What the API shows of an account: never its password hash; its second factors by kind and number. */
export function userView(account: Account, factors: SecondFactors) {
  return {
    id: account.id,
    username: account.username,
    email: account.email,
    email_verified: account.emailVerified,
    name: account.name,
    roles: account.roles,
    disabled: account.disabled,
    created_at: iso(account.createdAt),
    updated_at: iso(account.updatedAt),
    mfa: secondFactorsView(factors),
  };
}

const hashScheme = (hash: string) => (hash.startsWith('$argon2id$') ? 'argon2id' : 'bcrypt');

// One message for every way a hash can be wrong (too short, a character the
// schema's pattern refuses, an unknown scheme): the formats accepted, not the
// regular expression that checks them.
const UNSUPPORTED_HASH = 'is not a supported password hash: give an argon2id hash ($argon2id$...) or a bcrypt hash ($2a$, $2b$ or $2y$...)';

/** The schema's errors, with those about the hash's form in the words above (a missing hash stays "is required"). */
function lineErrors(errors: FieldError[]): FieldError[] {
  const aboutHash = (e: FieldError) => e.field === 'password_hash' && e.message !== 'is required';
  const others = errors.filter((e) => !aboutHash(e));
  return errors.some(aboutHash) ? [...others, { field: 'password_hash', message: UNSUPPORTED_HASH }] : others;
}

export function userRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { accounts, hasher, audit, mfa } = deps.services;
  const validateLine = compileBody(importUserLineSchema);
  const tag = 'users';
  const params = { idOrUsername: pathId };

  /** One user as the API shows it, with what it has enrolled. */
  const viewOf = async (account: Account) => userView(account, await mfa.factorsOf(account.id));

  async function findUser(idOrUsername: string): Promise<Account> {
    const account = await accounts.findByIdOrUsername(idOrUsername);
    if (!account) throw notFound('user');
    return account;
  }

  /** Invalid → 400; taken in any spelling, or like an existing one → 409; the errors name the field. */
  const usernameRefused = (error: UsernameRefusedError) => (error.reason === 'invalid'
    ? new AdminProblem(400, 'Bad Request', `username ${error.message}`, [{ field: 'username', message: error.message }])
    : new AdminProblem(409, 'Conflict', `username ${error.message}`, [{ field: 'username', message: error.message }]));

  /** One import line: validated alone, so its errors name it and spare the others. */
  async function importLine(line: unknown, actor: string): Promise<{ status: 'imported'; id: string } | { status: 'invalid' | 'conflict'; errors: FieldError[] }> {
    const checked = validateLine(line);
    if (!checked.ok) return { status: 'invalid', errors: lineErrors(checked.errors) };
    const input = checked.value as ImportUserLine;
    if (!hasher.isSupportedHash(input.password_hash)) {
      return { status: 'invalid', errors: [{ field: 'password_hash', message: UNSUPPORTED_HASH }] };
    }
    try {
      // bcrypt hashes stay as they are until the user's next sign-in rehashes them to argon2id
      const account = await accounts.create({ username: input.username, email: input.email, roles: input.roles, passwordHash: input.password_hash });
      await audit.record({ type: 'user.imported', actor, subject: account.id, details: { username: account.username, email: account.email, roles: account.roles, scheme: hashScheme(input.password_hash) } });
      return { status: 'imported', id: account.id };
    } catch (error) {
      if (error instanceof UsernameRefusedError) {
        return { status: error.reason === 'invalid' ? 'invalid' : 'conflict', errors: [{ field: 'username', message: error.message }] };
      }
      throw error;
    }
  }

  return [
    {
      method: 'post', path: '/users', tag, summary: 'Create a user',
      body: createUserSchema,
      responses: { 201: { description: 'the user', schema: userSchema }, 409: { description: 'the username is taken (in any case or Unicode form) or looks like an existing one' } },
      async handle(ctx, { body, actor }: AdminInput<CreateUserBody>) {
        let account: Account;
        try {
          // cheap refusal before the (deliberately slow) hash; create checks again
          await accounts.checkNewUsername(body.username);
          const passwordHash = await hasher.hash(body.password);
          account = await accounts.create({ username: body.username, email: body.email, name: body.name, roles: body.roles, passwordHash });
        } catch (error) {
          if (error instanceof UsernameRefusedError) throw usernameRefused(error);
          throw error;
        }
        await audit.record({ type: 'user.created', actor, subject: account.id, details: { username: account.username, email: account.email, roles: account.roles } });
        // a new account has enrolled nothing yet
        reply(ctx, 201, userView(account, NO_SECOND_FACTORS));
      },
    },
    {
      method: 'get', path: '/users', tag, summary: 'List users (by username)',
      query: listQuerySchema,
      responses: { 200: { description: 'a page of users', schema: userSchema, list: true } },
      async handle(ctx, { query }: AdminInput<unknown, { limit: number; offset: number }>) {
        const users = await accounts.list(query);
        // one query for the page's second factors, not one per user
        const factors = await mfa.factorsOfAccounts(users.map((account) => account.id));
        reply(ctx, 200, page(users.map((account) => userView(account, factors.get(account.id) ?? NO_SECOND_FACTORS)), query));
      },
    },
    {
      method: 'post', path: '/users/import', tag, summary: 'Import users with existing password hashes (argon2id, bcrypt)',
      body: importUsersSchema,
      responses: { 200: { description: 'per-line results: imported, invalid or conflict' } },
      async handle(ctx, { body, actor }: AdminInput<{ users: unknown[] }>) {
        const results = [];
        for (const [index, line] of body.users.entries()) {
          const username = (line as { username?: unknown }).username;
          results.push({ index, ...(typeof username === 'string' ? { username } : {}), ...await importLine(line, actor) });
        }
        const imported = results.filter((r) => r.status === 'imported').length;
        reply(ctx, 200, { imported, failed: results.length - imported, results });
      },
    },
    {
      method: 'get', path: '/users/:idOrUsername', tag, summary: 'One user, by id or username',
      params,
      responses: { 200: { description: 'the user', schema: userSchema }, 404: { description: 'no such user' } },
      async handle(ctx, { params: p }) {
        reply(ctx, 200, await viewOf(await findUser(p.idOrUsername)));
      },
    },
    {
      method: 'post', path: '/users/:idOrUsername/disable', tag, summary: "Disable a user, end the user's sessions and revoke all of the user's grants",
      params, body: emptyBodySchema,
      responses: { 200: { description: 'the user, the number of grants revoked and of sessions ended' }, 404: { description: 'no such user' } },
      async handle(ctx, { params: p, actor }) {
        const account = await findUser(p.idOrUsername);
        // disabled first: from here on the account cannot sign in or be found by
        // the provider, so no new grant can appear while the old ones are revoked
        const disabled = await deps.services.accounts.setDisabled(account.id, true) ?? account;
        const { revokedGrants: revoked, endedSessions } = await deps.sessions.takeAccessAway(account.id, { actor, reason: 'user_disabled' });
        await audit.record({ type: 'user.disabled', actor, subject: account.id, details: { username: account.username, revoked_grants: revoked, ended_sessions: endedSessions } });
        reply(ctx, 200, { user: await viewOf(disabled), revoked_grants: revoked, ended_sessions: endedSessions });
      },
    },
    {
      method: 'post', path: '/users/:idOrUsername/enable', tag, summary: 'Enable a disabled user (nothing revoked comes back)',
      params, body: emptyBodySchema,
      responses: { 200: { description: 'the user', schema: userSchema }, 404: { description: 'no such user' } },
      async handle(ctx, { params: p, actor }) {
        const account = await findUser(p.idOrUsername);
        const enabled = await accounts.setDisabled(account.id, false) ?? account;
        await audit.record({ type: 'user.enabled', actor, subject: account.id });
        reply(ctx, 200, await viewOf(enabled));
      },
    },
    {
      method: 'patch', path: '/users/:idOrUsername', tag, summary: "Change a user's e-mail, name or roles (absent fields keep their values)",
      params, body: updateUserSchema,
      responses: { 200: { description: 'the user', schema: userSchema }, 404: { description: 'no such user' } },
      async handle(ctx, { params: p, body, actor }: AdminInput<UpdateUserBody>) {
        const account = await findUser(p.idOrUsername);
        const updated = await accounts.update(account.id, { email: body.email, name: body.name, roles: body.roles });
        if (!updated) throw notFound('user');
        // which fields changed, and the new roles (a widening stands out); e-mails are masked by the audit log
        const fields = Object.keys(body).sort();
        await audit.record({ type: 'user.updated', actor, subject: account.id, details: { fields, ...(body.roles ? { roles: body.roles } : {}) } });
        reply(ctx, 200, await viewOf(updated));
      },
    },
    {
      method: 'post', path: '/users/:idOrUsername/password', tag, summary: "Set a user's password: every grant revoked and every session ended",
      params, body: setPasswordSchema,
      responses: { 200: { description: 'the number of grants revoked and sessions ended' }, 404: { description: 'no such user' } },
      async handle(ctx, { params: p, body, actor }: AdminInput<SetPasswordBody>) {
        const account = await findUser(p.idOrUsername);
        await accounts.setPasswordHash(account.id, await hasher.hash(body.password));
        // a new password is a revocation: whoever held the old one holds nothing now
        const { revokedGrants: revoked, endedSessions } = await deps.sessions.takeAccessAway(account.id, { actor, reason: 'password_set' });
        await audit.record({ type: 'user.password_set', actor, subject: account.id, details: { revoked_grants: revoked, ended_sessions: endedSessions } });
        reply(ctx, 200, { id: account.id, revoked_grants: revoked, ended_sessions: endedSessions });
      },
    },
    {
      method: 'post', path: '/users/:idOrUsername/mfa/reset', tag,
      summary: "Remove every second factor of a user (TOTP, recovery codes, passkeys), e.g. after a lost phone; the password stays",
      params, body: emptyBodySchema,
      responses: { 200: { description: 'the user, with no second factor left', schema: userSchema }, 404: { description: 'no such user' } },
      async handle(ctx, { params: p, actor }) {
        const account = await findUser(p.idOrUsername);
        // the MFA service removes them (and answers what there was) and records mfa.reset with this admin as the actor;
        // the answer shows what is left, read afresh
        await mfa.reset(account.id, actor);
        reply(ctx, 200, await viewOf(account));
      },
    },
    {
      method: 'delete', path: '/users/:idOrUsername', tag, summary: 'Erase a user and everything the account holds (grants, tokens, sessions)',
      params,
      responses: { 200: { description: 'the erased account id and what ended with it' }, 404: { description: 'no such user' } },
      async handle(ctx, { params: p, actor }) {
        const account = await findUser(p.idOrUsername);
        // Disabled first, so that no new grant or session can appear while the
        // old ones are taken away; then the row goes.
        await accounts.setDisabled(account.id, true);
        const { revokedGrants: revoked, endedSessions } = await deps.sessions.takeAccessAway(account.id, { actor, reason: 'user_deleted' });
        await accounts.delete(account.id);
        // the id stays in the audit log (random: it names no one once the account
        // is gone); the username, e-mail and name recorded about it do not
        await audit.forgetPersonalDetails(account.id);
        await audit.record({ type: 'user.deleted', actor, subject: account.id, details: { revoked_grants: revoked, ended_sessions: endedSessions } });
        reply(ctx, 200, { id: account.id, deleted: true, revoked_grants: revoked, ended_sessions: endedSessions });
      },
    },
  ];
}
