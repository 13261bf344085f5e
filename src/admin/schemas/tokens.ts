import { object, type JsonSchema } from './common.ts';

export interface RevokeTokenBody { jti: string; exp?: number }

export const revokeTokenSchema: JsonSchema = {
  title: 'RevokeToken',
  ...object({
    jti: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7E]+$', description: 'the JWT access token id' },
    exp: { type: 'integer', minimum: 0, maximum: 4102444800, description: "the token's exp (epoch seconds); unknown → the longest access-token lifetime" },
  }, ['jti']),
};
