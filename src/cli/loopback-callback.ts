import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The sign-in did not end with a usable code: the message says why, for the terminal. */
export class CallbackError extends Error {}

export interface LoopbackCallback {
  /** http://127.0.0.1:PORT/callback */
  readonly redirectUri: string;
  /**
   * The code of the first answer to arrive at the callback path. Rejects with
   * a CallbackError on a state or issuer mismatch, an error redirect
   * (access_denied…), or when nothing arrives within the timeout. Either way
   * the listener is closed by then.
   */
  readonly code: Promise<string>;
  /** Stops listening (idempotent); the pending code, if any, rejects. */
  close(): void;
}

export interface LoopbackOptions {
  /** 0: a free port chosen by the system */
  port: number;
  /** the state sent with the authorization request */
  state: string;
  /** the issuer whose answer is awaited (RFC 9207 `iss`, checked when present) */
  issuer: string;
  timeoutSeconds: number;
}

const CALLBACK_PATH = '/callback';

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page the browser lands on: it says what happened and that the terminal has the rest. */
function answerPage(res: ServerResponse, status: number, title: string, message: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // the page loads nothing and the callback URL (with its code) goes nowhere else
    'content-security-policy': "default-src 'none'",
    'referrer-policy': 'no-referrer',
    connection: 'close',
  });
  res.end(`<!DOCTYPE html><html lang="en"><meta charset="utf-8"><title>${escapeHtml(title)}</title>`
    + `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p>You can close this window and return to the terminal.</p></html>\n`);
}

/** What the authorization server's answer says, judged against our request (RFC 6749 §4.1.2, RFC 9207). */
function judge(query: URLSearchParams, options: LoopbackOptions): string {
  const state = query.get('state');
  // before anything else: an answer with another state is not the answer to our request
  if (state === null || !sameString(state, options.state)) {
    throw new CallbackError('the callback carried another state than the request (or none): it is not the answer to this sign-in, so its code was not used');
  }
  const iss = query.get('iss');
  if (iss !== null && iss !== options.issuer) {
    throw new CallbackError(`the callback came from issuer ${iss}, not ${options.issuer}: its code was not used`);
  }
  const error = query.get('error');
  if (error !== null) {
    const description = query.get('error_description');
    throw new CallbackError(`the sign-in ended with ${error}${description ? `: ${description}` : ''}`);
  }
  const code = query.get('code');
  if (!code) throw new CallbackError('the callback carried neither a code nor an error');
  return code;
}

/**
 * Listens on 127.0.0.1 for the one redirect that ends the sign-in (RFC 8252
 * §7.3: a loopback redirect URI for an app on the user's machine), then stops.
 * Only the loopback interface: nothing else on the network can reach it.
 */
export async function listenForCallback(options: LoopbackOptions): Promise<LoopbackCallback> {
  let settle: { resolve(code: string): void; reject(error: Error): void };
  const code = new Promise<string>((resolve, reject) => { settle = { resolve, reject }; });
  code.catch(() => {}); // handled by whoever awaits it; close() without a waiter is no crash
  let done = false;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== CALLBACK_PATH || req.method !== 'GET' || done) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('Not found\n');
      return;
    }
    try {
      const received = judge(url.searchParams, options);
      answerPage(res, 200, 'Signed in', 'Tessera sent the sign-in back to the terminal, which now exchanges it for tokens.');
      finish(() => settle.resolve(received), res);
    } catch (error) {
      answerPage(res, 400, 'Sign-in not completed', (error as Error).message);
      finish(() => settle.reject(error as Error), res);
    }
  });

  const timer = setTimeout(() => {
    finish(() => settle.reject(new CallbackError(`no sign-in arrived within ${options.timeoutSeconds} s (--timeout): the browser never came back to ${redirectUri}`)));
  }, options.timeoutSeconds * 1000);

  /** Settles once, and stops listening: a browser's other open connections go too, the answering one once its page is sent. */
  function finish(outcome: () => void, answering?: ServerResponse): void {
    if (done) return;
    done = true;
    clearTimeout(timer);
    server.close();
    server.closeIdleConnections();
    if (answering && !answering.writableFinished) answering.once('finish', () => server.closeAllConnections());
    else server.closeAllConnections();
    outcome();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === 'EADDRINUSE'
        ? new CallbackError(`port ${options.port} is in use on 127.0.0.1: choose another --port`)
        : error);
    });
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const redirectUri = `http://127.0.0.1:${port}${CALLBACK_PATH}`;

  return {
    redirectUri,
    code,
    close: () => finish(() => settle.reject(new CallbackError('stopped listening'))),
  };
}
