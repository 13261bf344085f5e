import { absoluteUri, list, object, scopeToken, text, type JsonSchema } from './common.ts';

export interface CreateClientBody {
  name: string;
  grant_types: string[];
  redirect_uris?: string[];
  post_logout_redirect_uris?: string[];
  scopes?: string[];
  public?: boolean;
  first_party?: boolean;
  token_endpoint_auth_method?: string;
  introspect_for?: string[];
  backchannel_logout_uri?: string;
  backchannel_logout_session_required?: boolean;
}

// Grant types and auth methods are bounded here but judged by the provider
// (clientMetadataValidator): it alone knows which ones are enabled.
const token: JsonSchema = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7E]+$' };

export const createClientSchema: JsonSchema = {
  title: 'CreateClient',
  ...object({
    name: text(200),
    grant_types: list(token, 10, { minItems: 1 }),
    redirect_uris: list(absoluteUri, 50),
    post_logout_redirect_uris: list(absoluteUri, 50),
    scopes: { ...list(scopeToken, 200), description: "the client's allow-list: OIDC scopes and resource scopes (absent: none); `admin` grants the admin API (client_credentials only)" },
    public: { type: 'boolean', description: 'no secret; token_endpoint_auth_method none' },
    first_party: { type: 'boolean', description: 'skips consent and permits the password grant' },
    token_endpoint_auth_method: token,
    introspect_for: { ...list(absoluteUri, 50), description: 'resource identifiers whose tokens this client may introspect' },
    backchannel_logout_uri: { ...absoluteUri, description: 'OpenID Connect Back-Channel Logout: where logout tokens are posted when a session ends (absent: none is sent); https, or http to a loopback address with BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK=true' },
    backchannel_logout_session_required: { type: 'boolean', description: 'logout tokens carry the sid (default true with a backchannel_logout_uri)' },
  }, ['name', 'grant_types']),
};

export const clientSchema: JsonSchema = {
  title: 'Client',
  type: 'object',
  properties: {
    client_id: { type: 'string' },
    client_secret: { type: 'string', description: 'only in the answer to the creation, once' },
    name: { type: 'string' },
    grant_types: { type: 'array', items: { type: 'string' } },
    redirect_uris: { type: 'array', items: { type: 'string' } },
    post_logout_redirect_uris: { type: 'array', items: { type: 'string' } },
    scopes: { type: 'array', items: { type: 'string' }, description: 'the allow-list; empty: no scope at all' },
    public: { type: 'boolean' },
    first_party: { type: 'boolean' },
    token_endpoint_auth_method: { type: 'string' },
    introspect_for: { type: 'array', items: { type: 'string' } },
    backchannel_logout_uri: { type: ['string', 'null'] },
    backchannel_logout_session_required: { type: 'boolean' },
    created_at: { type: 'string', format: 'date-time' },
  },
};
