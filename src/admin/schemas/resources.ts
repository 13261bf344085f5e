import { MAX_RESOURCE_TTL } from '../../clients/index.ts';
import { absoluteUri, list, object, scopeToken, text, type JsonSchema } from './common.ts';

export interface CreateResourceBody {
  identifier: string;
  name?: string;
  scopes: string[];
  token_format?: 'jwt' | 'opaque';
  access_token_ttl?: number;
  dynamic_clients?: boolean;
}

/** The longest access-token lifetime a resource server may ask for. */

export const createResourceSchema: JsonSchema = {
  title: 'CreateResource',
  ...object({
    identifier: { ...absoluteUri, description: 'the audience URI (RFC 8707 resource indicator)' },
    name: text(200),
    scopes: list(scopeToken, 200, { minItems: 1 }),
    token_format: { type: 'string', enum: ['jwt', 'opaque'] },
    access_token_ttl: { type: 'integer', minimum: 60, maximum: MAX_RESOURCE_TTL, description: 'seconds' },
    dynamic_clients: { type: 'boolean', description: 'clients nobody registered by hand (dynamic registration, client ID metadata documents) may receive this resource\'s scopes and audience; absent: false' },
  }, ['identifier', 'scopes']),
};

export interface UpdateResourceBody {
  name?: string;
  scopes?: string[];
  token_format?: 'jwt' | 'opaque';
  access_token_ttl?: number;
  dynamic_clients?: boolean;
}

/** A partial change: absent fields keep their values; scopes replaces the list. The identifier is the resource's name and stays. */
export const updateResourceSchema: JsonSchema = {
  title: 'UpdateResource',
  ...object({
    name: text(200),
    scopes: { ...list(scopeToken, 200, { minItems: 1 }), description: 'replaces the scopes; tokens already issued keep theirs until they expire' },
    token_format: { type: 'string', enum: ['jwt', 'opaque'] },
    access_token_ttl: { type: 'integer', minimum: 60, maximum: MAX_RESOURCE_TTL, description: 'seconds' },
    dynamic_clients: { type: 'boolean', description: 'clients nobody registered by hand (dynamic registration, client ID metadata documents) may receive this resource\'s scopes and audience; absent: false' },
  }, [], { minProperties: 1 }),
};

export const resourceSchema: JsonSchema = {
  title: 'Resource',
  type: 'object',
  properties: {
    identifier: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } },
    token_format: { type: 'string', enum: ['jwt', 'opaque'] }, access_token_ttl: { type: 'integer' },
    dynamic_clients: { type: 'boolean' }, created_at: { type: 'string', format: 'date-time' },
  },
};
