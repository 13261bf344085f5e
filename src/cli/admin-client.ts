// the admin folder's light entry: the barrel would load the admin API, the provider and the stores
import { readAdminCredentials, type AdminCredentials } from '../admin/credentials.ts';
import { ADMIN_API_PATH, adminResourceOf, type Config } from '../config/index.ts';

export interface Problem { title?: string; status?: number; detail?: string; errors?: Array<{ field: string; message: string }> }

/** The admin API said no: carries its problem details for the CLI to show. */
export class AdminApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(status: number, problem: Problem) {
    super([problem.title ?? `HTTP ${status}`, problem.detail].filter(Boolean).join(': '));
    this.status = status;
    this.problem = problem;
  }
}

export type AdminApi = ReturnType<typeof createAdminApi>;

/** Form encoding of client_id and secret inside Basic credentials (RFC 6749 §2.3.1). */
const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');

/**
 * A small client for the running server's admin API. It gets an access token
 * by client_credentials for the admin resource (resource=$ISSUER/admin,
 * scope=admin) with the admin credentials, once, and uses it for every call.
 */
export function createAdminApi(options: { issuer: string; credentials: AdminCredentials }) {
  const { issuer, credentials } = options;
  let token: Promise<string> | undefined;

  async function send(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach Tessera at ${issuer} (${cause?.code ?? cause?.message ?? (error as Error).message}); is ISSUER right and the server running?`);
    }
  }

  async function readJson(res: Response): Promise<unknown> {
    const text = await res.text();
    try { return text ? JSON.parse(text) : undefined; } catch { return { detail: text.slice(0, 200) }; }
  }

  async function fetchToken(): Promise<string> {
    const discovery = await send(`${issuer}/.well-known/openid-configuration`, {});
    const tokenEndpoint = (await readJson(discovery) as { token_endpoint?: string } | undefined)?.token_endpoint;
    if (!discovery.ok || !tokenEndpoint) throw new Error(`${issuer} does not look like a Tessera server (no discovery document)`);
    const res = await send(tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${formEncode(credentials.client_id)}:${formEncode(credentials.client_secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: adminResourceOf(issuer), scope: 'admin' }),
    });
    const body = await readJson(res) as { access_token?: string; error?: string; error_description?: string } | undefined;
    if (!res.ok || !body?.access_token) {
      throw new Error(`the admin credentials were refused: ${body?.error_description ?? body?.error ?? `HTTP ${res.status}`}`);
    }
    return body.access_token;
  }

  async function call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    token ??= fetchToken();
    const res = await send(`${issuer}${ADMIN_API_PATH}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await readJson(res);
    if (!res.ok) throw new AdminApiError(res.status, (answer ?? {}) as Problem);
    return answer as T;
  }

  const withQuery = (path: string, query: Record<string, string | number | undefined> = {}) => {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    return params.size ? `${path}?${params}` : path;
  };

  /**
   * A GET whose answer is streamed to `write` as it arrives (an export can be
   * larger than memory): the 30-second limit is on the answer starting, not on
   * its whole transfer.
   */
  async function download(path: string, query: Record<string, string | number | undefined>, write: (chunk: string) => unknown): Promise<void> {
    token ??= fetchToken();
    const authorization = `Bearer ${await token}`;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error('no answer within 30 seconds')), 30_000);
    let res: Response;
    try {
      res = await fetch(`${issuer}${ADMIN_API_PATH}${withQuery(path, query)}`, { headers: { authorization }, signal: abort.signal });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach Tessera at ${issuer} (${cause?.code ?? cause?.message ?? (error as Error).message}); is ISSUER right and the server running?`);
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) throw new AdminApiError(res.status, ((await readJson(res)) ?? {}) as Problem);
    const decoder = new TextDecoder();
    for await (const chunk of res.body ?? []) write(decoder.decode(chunk as Uint8Array, { stream: true }));
    const rest = decoder.decode();
    if (rest) write(rest);
  }

  return {
    get: <T = any>(path: string, query?: Record<string, string | number | undefined>) => call<T>('GET', withQuery(path, query)),
    download,
    post: <T = any>(path: string, body: unknown = {}) => call<T>('POST', path, body),
    patch: <T = any>(path: string, body: unknown) => call<T>('PATCH', path, body),
    delete: <T = any>(path: string) => call<T>('DELETE', path),
  };
}

/** The admin API of the server at ISSUER, with the credentials from the environment or KEYS_DIR. */
export function adminApiFor(config: Config, env: NodeJS.ProcessEnv = process.env): AdminApi {
  const credentials = readAdminCredentials(config.keysDir, env);
  if (!credentials) {
    throw new Error(`no admin credentials: set TESSERA_ADMIN_CLIENT_ID and TESSERA_ADMIN_CLIENT_SECRET, or run where ${config.keysDir}/admin-client.json is readable (KEYS_DIR)`);
  }
  return createAdminApi({ issuer: config.issuer, credentials });
}
