import { email, list, object, pagination, role, text, username, type JsonSchema } from './common.ts';

export interface CreateUserBody { username: string; email?: string; name?: string; roles?: string[]; password: string }
export interface ImportUserLine { username: string; email?: string; password_hash: string; roles?: string[] }

export const createUserSchema: JsonSchema = {
  title: 'CreateUser',
  ...object({
    username,
    email,
    name: text(200),
    roles: list(role, 50),
    // not a PLAIN_TEXT string: passwords may hold any character; they are hashed, never stored
    password: { type: 'string', minLength: 8, maxLength: 1024, writeOnly: true },
  }, ['username', 'password']),
};

/** One line of an import; checked line by line, so one bad line does not sink the others. */
export const importUserLineSchema: JsonSchema = {
  title: 'ImportUserLine',
  ...object({
    username,
    email,
    name: text(200),
    roles: list(role, 50),
    password_hash: { type: 'string', minLength: 20, maxLength: 512, pattern: '^\\$[\\x21-\\x7E]+$', description: 'argon2id ($argon2id$...) or bcrypt ($2a$/$2b$/$2y$)' },
  }, ['username', 'password_hash']),
};

export const importUsersSchema: JsonSchema = {
  title: 'ImportUsers',
  // Lines are validated one by one in the handler against ImportUserLine, so
  // that a bad line is reported by its index while the others are imported.
  ...object({ users: { type: 'array', minItems: 1, maxItems: 500, items: { description: 'ImportUserLine: username, email?, name?, roles?, password_hash' } } }, ['users']),
};

export interface UpdateUserBody { email?: string | null; name?: string | null; roles?: string[] }

/** A partial change: absent fields keep their values; null clears e-mail or name; roles replaces the list. */
export const updateUserSchema: JsonSchema = {
  title: 'UpdateUser',
  ...object({
    email: { anyOf: [email, { type: 'null' }], description: 'a new address is unverified; null removes it' },
    name: { anyOf: [text(200), { type: 'null' }], description: 'null removes it' },
    roles: list(role, 50),
  }, [], { minProperties: 1 }),
};

export interface SetPasswordBody { password: string }

export const setPasswordSchema: JsonSchema = {
  title: 'SetPassword',
  // the same bounds as at creation; hashed with argon2id, never stored or logged
  ...object({ password: { type: 'string', minLength: 8, maxLength: 1024, writeOnly: true } }, ['password']),
};

export const emptyBodySchema: JsonSchema = { title: 'Empty', ...object({}) };

export const listQuerySchema: JsonSchema = object({ ...pagination });

/** What the user has enrolled as a second factor (never a secret, code or key). */
export const secondFactorsSchema: JsonSchema = {
  title: 'SecondFactors',
  type: 'object',
  properties: {
    totp: { type: 'boolean', description: 'an authenticator app (TOTP) is confirmed' },
    passkeys: { type: 'integer', minimum: 0, description: 'registered passkeys' },
    recovery_codes_left: { type: 'integer', minimum: 0, description: 'recovery codes not used yet' },
  },
};

export const userSchema: JsonSchema = {
  title: 'User',
  type: 'object',
  properties: {
    id: { type: 'string' }, username: { type: 'string' }, email: { type: ['string', 'null'] },
    email_verified: { type: 'boolean' }, name: { type: ['string', 'null'] }, roles: { type: 'array', items: { type: 'string' } },
    disabled: { type: 'boolean' }, created_at: { type: 'string', format: 'date-time' }, updated_at: { type: 'string', format: 'date-time' },
    mfa: secondFactorsSchema,
  },
};
