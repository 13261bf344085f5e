import { request } from 'node:https';

export interface TlsClientOptions {
  /** CA certificates (PEM) the server's certificate must chain to */
  ca: string;
  /** a client certificate and its key (PEM), for mTLS */
  cert?: string;
  key?: string;
}

type FetchInit = { method?: string; headers?: Record<string, string> | Headers; body?: string | URLSearchParams | null };

/**
 * A fetch over Node's https with a CA of our own and optionally a client
 * certificate (the global fetch takes neither). A new connection per request
 * (agent: false), so every request does a TLS handshake of its own.
 * Usable as openid-client's customFetch.
 */
export function httpsFetch(tls: TlsClientOptions): (url: string | URL, init?: FetchInit) => Promise<Response> {
  return (url, init = {}) => new Promise((resolve, reject) => {
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    if (body !== undefined && !headers['content-type'] && init.body instanceof URLSearchParams) headers['content-type'] = 'application/x-www-form-urlencoded';
    const req = request(url, { method: init.method ?? 'GET', headers, agent: false, ca: tls.ca, cert: tls.cert, key: tls.key }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const answer = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) answer.append(name, v);
        }
        const status = res.statusCode ?? 500;
        resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: answer }));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
