export interface ClientCredentials { clientId: string; clientSecret?: string }

export interface TokenAnswer {
  status: number;
  headers: Headers;
  text: string;
  body: Record<string, unknown> & {
    access_token?: string; refresh_token?: string; id_token?: string; scope?: string; token_type?: string;
    expires_in?: number; error?: string; error_description?: string;
  };
}

export const basicAuth = (client: ClientCredentials) =>
  `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret ?? '')}`).toString('base64')}`;

/** POST /token, form encoded; client_secret_basic when the client has a secret. */
export async function postToken(
  baseUrl: string,
  params: Record<string, string | string[]>,
  client: ClientCredentials,
  headers: Record<string, string> = {},
): Promise<TokenAnswer> {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) body.append(key, v);
  }
  const sent: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers };
  if (client.clientSecret) sent.authorization = basicAuth(client);
  else body.set('client_id', client.clientId);
  const res = await fetch(`${baseUrl}/token`, { method: 'POST', headers: sent, body });
  const text = await res.text();
  let parsed: TokenAnswer['body'];
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`/token answered ${res.status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

export function passwordGrant(
  baseUrl: string,
  client: ClientCredentials,
  params: { username: string; password: string; scope?: string; resource?: string | string[] },
  headers?: Record<string, string>,
): Promise<TokenAnswer> {
  const form: Record<string, string | string[]> = { grant_type: 'password', username: params.username, password: params.password };
  if (params.scope !== undefined) form.scope = params.scope;
  if (params.resource !== undefined) form.resource = params.resource;
  return postToken(baseUrl, form, client, headers);
}

/** The claims of a JWT, unverified. */
export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
  return { header, payload };
}

/** Lockout limits that stay out of the way of tests about something else. */
export const GENEROUS_LOCKOUT = {
  maxConsecutiveFailures: 1000,
  baseDelaySeconds: 1,
  maxDelaySeconds: 1,
  perIpPerMinute: 100000,
  perIpAndUsernamePerMinute: 100000,
};

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
