import { spawn } from 'node:child_process';
import type { Config } from '../config/index.ts';
import { none, parse, spaceList, wholeNumber } from './args.ts';
import { readAll } from './output.ts';
import { isUsageError, UsageError } from './usage.ts';
import { listenForCallback } from './loopback-callback.ts';
import type { ClientCredentials, Discovery, TokenSet, VerifiedToken } from './authorization-code-client.ts';

const DEFAULT_SCOPES = 'openid profile email offline_access';
const DEFAULT_TIMEOUT_SECONDS = 300;
const DEMO_CLIENT_NAME = 'Tessera tour';

export const TRY_USAGE = `  try [--scopes "s1 s2"] [--resource URI] [--port N] [--timeout SECONDS] [--open]
      [--client-id ID --port N [--client-secret-stdin]]
                             sign a person in through the browser and print the tokens:
                             registers a demo client (unless --client-id), prints the
                             sign-in URL, waits on http://127.0.0.1:PORT/callback, exchanges
                             the code with PKCE and verifies the ID token
                             --scopes default "${DEFAULT_SCOPES}"; --timeout default ${DEFAULT_TIMEOUT_SECONDS}`;

export interface TryIo {
  stdin: NodeJS.ReadableStream;
  stdout: { write(text: string): unknown };
  /** progress and the URL to open: stderr, so stdout holds only the result */
  stderr: { write(text: string): unknown };
  env?: NodeJS.ProcessEnv;
}

interface Options {
  scopes: string[];
  resource?: string;
  port: number;
  timeoutSeconds: number;
  open: boolean;
  clientId?: string;
  clientSecretFromStdin: boolean;
  json: boolean;
}

function optionsOf(args: string[], json: boolean): Options {
  const { values, positionals } = parse(args, {
    scopes: { type: 'string' },
    resource: { type: 'string' },
    port: { type: 'string' },
    timeout: { type: 'string' },
    open: { type: 'boolean' },
    'client-id': { type: 'string' },
    'client-secret-stdin': { type: 'boolean' },
  });
  none(positionals);
  const scopes = spaceList(values.scopes ?? DEFAULT_SCOPES) ?? [];
  if (!scopes.length) throw new UsageError('--scopes is empty: name the scopes to ask for');
  const port = wholeNumber(values.port, '--port');
  if (port !== undefined && (port < 1 || port > 65535)) throw new UsageError('--port must be between 1 and 65535');
  const timeoutSeconds = wholeNumber(values.timeout, '--timeout') ?? DEFAULT_TIMEOUT_SECONDS;
  if (timeoutSeconds < 1) throw new UsageError('--timeout must be at least 1 (seconds)');
  // a registered client's redirect URI names its port: a random one would not match it
  if (values['client-id'] && port === undefined) throw new UsageError('--client-id needs --port: the port of the redirect URI http://127.0.0.1:PORT/callback registered for that client');
  if (values['client-secret-stdin'] && !values['client-id']) throw new UsageError('--client-secret-stdin goes with --client-id');
  if (values.resource !== undefined && !URL.canParse(values.resource)) throw new UsageError('--resource must be an absolute URI (a resource server identifier)');
  return {
    scopes,
    resource: values.resource,
    port: port ?? 0,
    timeoutSeconds,
    open: values.open ?? false,
    clientId: values['client-id'],
    clientSecretFromStdin: values['client-secret-stdin'] ?? false,
    json,
  };
}

interface DemoClient { client_id: string; scopes: string[]; grant_types: string[] }

/**
 * A public client (PKCE, no secret: an app on the user's machine cannot keep
 * one) for exactly the scopes asked for, registered by the operator's admin
 * credentials. refresh_token only when offline_access is asked for.
 */
async function registerDemoClient(config: Config, options: Options, redirectUri: string, env: NodeJS.ProcessEnv | undefined): Promise<DemoClient> {
  const { adminApiFor, AdminApiError } = await import('./admin-client.ts');
  try {
    return await adminApiFor(config, env).post<DemoClient>('/clients', {
      name: DEMO_CLIENT_NAME,
      grant_types: ['authorization_code', ...(options.scopes.includes('offline_access') ? ['refresh_token'] : [])],
      redirect_uris: [redirectUri],
      scopes: options.scopes,
      public: true,
    });
  } catch (error) {
    if (!(error instanceof AdminApiError)) throw error;
    const fields = (error.problem.errors ?? []).map((e) => `${e.field === 'scopes' ? '--scopes' : e.field}: ${e.message}`);
    throw new Error(`the demo client could not be registered: ${[error.message, ...fields].join('; ')}`);
  }
}

/** Opens the URL in the desktop's browser, only when asked (--open); failing is not an error. */
function openBrowser(url: string, say: (line: string) => void): void {
  const [command, ...args] = process.platform === 'darwin' ? ['open', url]
    : process.platform === 'win32' ? ['cmd', '/c', 'start', '""', url.replace(/&/g, '^&')]
      : ['xdg-open', url];
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  child.on('error', (error) => say(`(could not open a browser: ${error.message}; open the URL yourself)`));
  child.unref();
}

const indented = (value: unknown) => JSON.stringify(value, null, 2).split('\n').map((line) => `  ${line}`);

function humanResult(tokens: TokenSet, checked: { idToken?: VerifiedToken; accessToken?: VerifiedToken; userinfo?: Record<string, unknown> }, discovery: Discovery, asked: string[]): string[] {
  const { idToken, accessToken, userinfo } = checked;
  const granted = (tokens.scope ?? '').split(' ').filter(Boolean);
  const lines = [
    'Tokens (bearer credentials: keep them as you would a password):',
    `  token_type:    ${tokens.token_type}`,
    `  scope:         ${tokens.scope ?? '(none)'}`,
    `  expires_in:    ${tokens.expires_in ?? '?'} s`,
    `  access_token:  ${tokens.access_token}`,
    `  refresh_token: ${tokens.refresh_token ?? '(none)'}`,
    `  id_token:      ${tokens.id_token ?? '(none)'}`,
  ];
  if (asked.includes('offline_access') && !tokens.refresh_token) {
    lines.push('  No refresh token: offline_access was not granted (the client needs the refresh_token grant and offline_access in its allow-list; see above).');
  }
  const missing = asked.filter((scope) => !granted.includes(scope) && scope !== 'openid');
  if (missing.length && tokens.scope !== undefined) lines.push(`  Not granted: ${missing.join(' ')}`);
  if (idToken) {
    lines.push('', `ID token verified (${idToken.alg}, key ${idToken.kid ?? '?'} from ${discovery.jwks_uri}; iss, aud, exp and nonce checked). Its claims:`, ...indented(idToken.claims));
  }
  if (accessToken) {
    lines.push('', `Access token verified (JWT, ${accessToken.alg}; iss, aud, typ at+jwt checked). Its claims:`, ...indented(accessToken.claims));
  }
  if (userinfo) lines.push('', `UserInfo (${discovery.userinfo_endpoint} with the access token):`, ...indented(userinfo));
  return lines;
}

/** `tessera try`: the authorization code flow end to end, from the terminal. */
export async function tryCommand(config: Config, args: string[], output: { json: boolean }, io: TryIo): Promise<number> {
  let options: Options;
  try {
    options = optionsOf(args, output.json);
  } catch (error) {
    // a bad command line gets this command's usage, not the whole list
    if (isUsageError(error)) throw new UsageError((error as Error).message, TRY_USAGE);
    throw error;
  }
  // loaded here, not with the CLI: only this command needs jose
  const {
    authorizationUrl, discover, exchangeCode, fetchUserinfo, requestSecrets, verifyIdToken, verifyJwtAccessToken,
  } = await import('./authorization-code-client.ts');
  const say = (line = '') => io.stderr.write(`${line}\n`);

  let client: ClientCredentials | undefined;
  if (options.clientId) {
    client = { clientId: options.clientId };
    if (options.clientSecretFromStdin) {
      const secret = (await readAll(io.stdin)).replace(/\r?\n$/, '');
      if (!secret) throw new Error('--client-secret-stdin: no secret on stdin');
      client.clientSecret = secret;
    }
  }

  const discovery = await discover(config.issuer);
  const secrets = requestSecrets();
  const callback = await listenForCallback({ port: options.port, state: secrets.state, issuer: discovery.issuer, timeoutSeconds: options.timeoutSeconds });
  try {
    let registered: DemoClient | undefined;
    if (!client) {
      registered = await registerDemoClient(config, options, callback.redirectUri, io.env);
      client = { clientId: registered.client_id };
      say(`Registered a demo client "${DEMO_CLIENT_NAME}" through the admin API:`);
      say(`  client_id:     ${registered.client_id} (public: no secret; PKCE S256)`);
      say(`  redirect URI:  ${callback.redirectUri}`);
      say(`  grant types:   ${registered.grant_types.join(', ')}`);
      say(`  scopes:        ${registered.scopes.join(' ')} (what --scopes asked for, nothing else)`);
      say(`  (again with: npx tessera try --client-id ${registered.client_id} --port ${new URL(callback.redirectUri).port}; remove with: npx tessera clients delete ${registered.client_id})`);
      say();
    }

    // OpenID Connect Core §11: offline_access is ignored unless the request
    // has prompt=consent, so ask for consent when a refresh token is wanted
    const prompt = options.scopes.includes('offline_access') ? 'consent' : undefined;
    if (prompt) say('Asking with prompt=consent: OpenID Connect grants offline_access (a refresh token) only when the person is asked to consent.');
    const url = authorizationUrl(discovery, {
      clientId: client.clientId, redirectUri: callback.redirectUri, scope: options.scopes.join(' '),
      state: secrets.state, nonce: secrets.nonce, challenge: secrets.challenge, prompt, resource: options.resource,
    });
    say('Open this URL in a browser and sign in:');
    say();
    say(`  ${url}`);
    say();
    if (options.open) openBrowser(url, say);
    say(`Waiting for the browser to come back to ${callback.redirectUri} (up to ${options.timeoutSeconds} s; Ctrl-C stops)...`);

    const code = await callback.code;
    say('Signed in; exchanging the code (with the PKCE verifier) at the token endpoint.');
    const tokens = await exchangeCode(discovery, client, { code, redirectUri: callback.redirectUri, verifier: secrets.verifier, resource: options.resource });
    const idToken = tokens.id_token ? await verifyIdToken(discovery, tokens.id_token, { clientId: client.clientId, nonce: secrets.nonce }) : undefined;
    if (options.scopes.includes('openid') && !idToken) throw new Error('the token response has no ID token although openid was asked for');
    // an access token for a resource is that API's, not UserInfo's
    const accessToken = options.resource ? await verifyJwtAccessToken(discovery, tokens.access_token, options.resource) : undefined;
    const userinfo = idToken && !options.resource ? await fetchUserinfo(discovery, tokens.access_token) : undefined;

    if (options.json) {
      io.stdout.write(`${JSON.stringify({
        client_id: client.clientId,
        ...(registered ? { registered_client: { client_id: registered.client_id, scopes: registered.scopes, grant_types: registered.grant_types, redirect_uris: [callback.redirectUri] } } : {}),
        ...tokens,
        ...(idToken ? { id_token_claims: idToken.claims } : {}),
        ...(accessToken ? { access_token_claims: accessToken.claims } : {}),
        ...(userinfo ? { userinfo } : {}),
      })}\n`);
    } else {
      for (const line of humanResult(tokens, { idToken, accessToken, userinfo }, discovery, options.scopes)) io.stdout.write(`${line}\n`);
    }
    return 0;
  } finally {
    callback.close();
  }
}
