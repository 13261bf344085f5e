import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { batchedLookup } from '../db/index.ts';
import { canonicalUsername, usernameProblem, usernameSkeleton } from './username.ts';

export interface Account {
  readonly id: string;
  readonly username: string;
  readonly email: string | null;
  readonly emailVerified: boolean;
  readonly name: string | null;
  readonly roles: string[];
  readonly disabled: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface NewAccount {
  username: string;
  email?: string | null;
  emailVerified?: boolean;
  name?: string | null;
  roles?: string[];
  passwordHash: string | null;
}

/** A username the repository will not create; the message is about the field ("is already taken"). */
export class UsernameRefusedError extends Error {
  readonly reason: 'taken' | 'confusable' | 'invalid';
  constructor(reason: UsernameRefusedError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

export class UsernameTakenError extends UsernameRefusedError {
  constructor() { super('taken', 'is already taken'); }
}

interface AccountRow {
  id: string; username: string; username_canonical: string; username_skeleton: string; email: string | null; email_verified: boolean; name: string | null;
  roles: string[] | string; disabled: boolean; password_hash: string | null; created_at: Date | string; updated_at: Date | string;
}

function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    emailVerified: row.email_verified,
    name: row.name,
    roles: typeof row.roles === 'string' ? JSON.parse(row.roles) : row.roles,
    disabled: row.disabled,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === '23505';

export type AccountRepository = ReturnType<typeof createAccountRepository>;

export function createAccountRepository(knex: Knex) {
  const table = () => knex<AccountRow>('accounts');
  // Read by the provider for every token it issues for an account (code,
  // refresh, userinfo): lookups of one event-loop turn share one statement.
  const findRowById = batchedLookup({
    idOf: (id: string) => id,
    loadMany: async (ids: string[]) => {
      const { rows } = await knex.raw(`select * from accounts where id in (${ids.map(() => '?').join(', ')})`, ids) as { rows: AccountRow[] };
      return new Map(rows.map((row) => [row.id, row]));
    },
  });

  async function findById(id: string): Promise<Account | undefined> {
    const row = await findRowById(id);
    return row && toAccount(row);
  }

  // every spelling of a username that has the same canonical form finds the
  // account (unique index accounts_username_canonical), as it hits the same
  // lockout counters (src/accounts/lockout.ts)
  const rowByUsername = (username: string) => table().where({ username_canonical: canonicalUsername(username) }).first();

  /** Refuses a username that is invalid, taken (in any spelling) or looks like an existing one. */
  async function checkNewUsername(username: string): Promise<void> {
    const problem = usernameProblem(username);
    if (problem) throw new UsernameRefusedError('invalid', problem);
    if (await rowByUsername(username)) throw new UsernameTakenError();
    if (await table().where({ username_skeleton: usernameSkeleton(username) }).first('id')) {
      throw new UsernameRefusedError('confusable', 'looks like an existing username');
    }
  }

  async function findByUsername(username: string): Promise<Account | undefined> {
    const row = await rowByUsername(username);
    return row && toAccount(row);
  }

  return {
    checkNewUsername,

    /**
     * Creates an account: the username is checked first (UsernameRefusedError).
     * Two creations of look-alike usernames at the same moment can both pass
     * the look-alike check; the unique index still refuses two spellings of one.
     */
    async create(input: NewAccount): Promise<Account> {
      await checkNewUsername(input.username);
      try {
        const [row] = await table().insert({
          id: randomUUID(),
          username: input.username,
          username_canonical: canonicalUsername(input.username),
          username_skeleton: usernameSkeleton(input.username),
          email: input.email ?? null,
          email_verified: input.emailVerified ?? false,
          name: input.name ?? null,
          roles: JSON.stringify(input.roles ?? []),
          password_hash: input.passwordHash,
        }).returning('*');
        return toAccount(row as AccountRow);
      } catch (error) {
        if (isUniqueViolation(error)) throw new UsernameTakenError();
        throw error;
      }
    },

    findById,
    findByUsername,

    /** Operators address a user by id or by username, whichever they have at hand. */
    async findByIdOrUsername(idOrUsername: string): Promise<Account | undefined> {
      return await findById(idOrUsername) ?? await findByUsername(idOrUsername);
    },

    /** The account with its password hash, for sign-in only. */
    async findCredentials(username: string): Promise<{ account: Account; passwordHash: string | null } | undefined> {
      const row = await rowByUsername(username);
      return row && { account: toAccount(row), passwordHash: row.password_hash };
    },

    async list(options: { limit: number; offset: number }): Promise<Account[]> {
      const rows = await table().orderBy('username').limit(options.limit).offset(options.offset);
      return rows.map(toAccount);
    },

    async setPasswordHash(id: string, passwordHash: string): Promise<void> {
      await table().where({ id }).update({ password_hash: passwordHash, updated_at: knex.fn.now() as unknown as Date });
    },

    /**
     * Changes e-mail, name or roles (absent: unchanged; null clears e-mail or
     * name). A new e-mail address is unverified. Undefined when there is no such account.
     */
    async update(id: string, change: { email?: string | null; name?: string | null; roles?: string[] }): Promise<Account | undefined> {
      const current = await table().where({ id }).first('email');
      if (!current) return undefined;
      const emailChanged = change.email !== undefined && change.email !== current.email;
      const [row] = await table().where({ id }).update({
        ...(change.email !== undefined ? { email: change.email } : {}),
        ...(emailChanged ? { email_verified: false } : {}),
        ...(change.name !== undefined ? { name: change.name } : {}),
        ...(change.roles !== undefined ? { roles: JSON.stringify(change.roles) as unknown as string[] } : {}),
        updated_at: knex.fn.now() as unknown as Date,
      }).returning('*');
      return row && toAccount(row as AccountRow);
    },

    /** Erases the account row (its password hash with it); true when there was one. */
    async delete(id: string): Promise<boolean> {
      // `returning` rather than the count: knex-pglite does not report row counts
      return (await table().where({ id }).delete().returning('id')).length > 0;
    },

    async setDisabled(id: string, disabled: boolean): Promise<Account | undefined> {
      const [row] = await table().where({ id }).update({ disabled, updated_at: knex.fn.now() as unknown as Date }).returning('*');
      return row && toAccount(row as AccountRow);
    },
  };
}
