import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { addressKind } from '../http/index.ts';
import { OIDC_SCOPES } from './oidc-scopes.ts';

/*
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
 * a client nobody registered names itself with an https URL, and the JSON
 * document at that URL is its registration. Tessera fetches it when the
 * client first appears (and again when the cached copy expires).
 *
 * The URL is chosen by whoever sends the authorization request, so the fetch
 * is a request Tessera makes from inside its network on a stranger's behalf.
 * Hence: https only; the host resolved here and every address it resolves to
 * checked (loopback, private, link-local, unique-local, multicast, reserved
 * and the IPv6 forms that carry an IPv4 address all refused; loopback only
 * with CLIENT_METADATA_ALLOW_LOOPBACK=true, for development); the connection
 * made to the address that was checked (a name that resolves differently a
 * moment later reaches nothing else); no redirect followed; one deadline for
 * the whole fetch; the body read up to a small limit; JSON only.
 *
 * What such a client gets is decided by Tessera, not by the document: a
 * public client (no secret it could prove), the authorization code grant
 * (and refresh tokens), the OpenID Connect scopes, and for APIs only what
 * resource servers flagged `dynamic_clients` offer (src/provider/resource-servers.ts).
 * Never first party: the consent page is always shown, naming the URL's host
 * (the document's client_name is the client's own claim).
 */

export const CLIENT_METADATA_DOCUMENT_LIMITS = {
  /** connect, TLS, answer and body together */
  timeoutMs: 3000,
  /** a client's metadata is a few hundred bytes; a large answer is not one */
  maxBytes: 5120,
  /** the cache honours Cache-Control max-age within these bounds (seconds) */
  minCacheSeconds: 60,
  maxCacheSeconds: 86400,
  /** documents kept at once (oldest dropped first) */
  maxEntries: 1000,
  /** a refused document is not fetched again for this long: repeated requests do not become repeated fetches */
  refusalCacheMs: 5000,
  maxRedirectUris: 20,
  maxUriLength: 2000,
  maxNameLength: 200,
} as const;

/** A document Tessera will not use; the message is safe to show to the person and the client. */
export class ClientMetadataDocumentRefused extends Error {}

/**
 * Whether a client_id is a URL naming a client ID metadata document: https,
 * a host, a path, no credentials, no fragment, no dot segments, no spaces or
 * backslashes (the draft's rules: the string is compared as it is, so it
 * must be a URL that parses to itself).
 */
export function isClientIdUrl(id: unknown): id is string {
  if (typeof id !== 'string' || id.length > CLIENT_METADATA_DOCUMENT_LIMITS.maxUriLength) return false;
  if (!id.startsWith('https://')) return false;
  if (/[\u0000-\u0020\u007f\\#]/.test(id)) return false;
  let url: URL;
  try { url = new URL(id); } catch { return false; }
  if (url.username || url.password || id.slice(8).split(/[/?]/, 1)[0].includes('@')) return false;
  if (!url.hostname) return false;
  const path = id.slice(8).replace(/^[^/?]*/, '').split('?')[0];
  if (!path.startsWith('/') || path.length < 2) return false;
  if (path.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) return false;
  return true;
}

/**
 * A client nobody registered by hand: it registered itself (RFC 7591, /reg:
 * `dynamically_registered`) or is known only by its client ID metadata
 * document. Such a client gets less trust wherever a stranger's choice
 * would otherwise be followed: its tokens only for resource servers open to
 * dynamic clients, no redirect of an error or a logout it could aim anywhere.
 */
export function isRegisteredByNobody(client: { clientId: string }): boolean {
  return (client as { dynamically_registered?: unknown }).dynamically_registered === true || isClientIdUrl(client.clientId);
}

/** The host a client ID metadata document's client is shown as (its URL's host), or undefined for other clients. */
export function clientIdHost(clientId: unknown): string | undefined {
  return isClientIdUrl(clientId) ? new URL(clientId).host : undefined;
}

export interface ClientMetadataDocumentOptions {
  /** development: documents on loopback addresses (CLIENT_METADATA_ALLOW_LOOPBACK) */
  allowLoopback: boolean;
  /** why a document was refused, for the operator (the client id is public; no document content is logged) */
  onRefused?: (clientId: string, reason: string) => void;
}

interface Fetched { document: unknown; cacheSeconds: number }

class AddressRefused extends Error {}

/** Every address the name resolves to must be allowed; the connection then goes to those addresses only. */
function checkedLookup(allowLoopback: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family as number | undefined }, (error, addresses: LookupAddress[]) => {
      if (error || !addresses.length) return callback(new AddressRefused(`${hostname} does not resolve`), '', 0);
      const refused = addresses.find((a) => refusedAddress(a.address, allowLoopback));
      if (refused) return callback(new AddressRefused(`${hostname} resolves to ${refused.address}: ${refusedAddress(refused.address, allowLoopback)}`), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/** Why Tessera may not fetch from this address; undefined when it may. */
export function refusedAddress(address: string, allowLoopback: boolean): string | undefined {
  const kind = addressKind(address);
  if (kind === 'public') return undefined;
  if (kind === 'loopback') return allowLoopback ? undefined : 'a loopback address (allowed only with CLIENT_METADATA_ALLOW_LOOPBACK=true, for development)';
  return kind === 'private' ? 'a private address' : 'a link-local, reserved or special-purpose address';
}

const isJsonContentType = (value: string | undefined) => {
  const type = (value ?? '').split(';')[0].trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
};

/** max-age of a Cache-Control header (no-store and no-cache: none) */
function maxAgeOf(cacheControl: string | undefined): number | undefined {
  if (!cacheControl || /(^|,)\s*no-(store|cache)\b/i.test(cacheControl)) return undefined;
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?/i.exec(cacheControl);
  return match ? Number(match[1]) : undefined;
}

/**
 * GET the document under the rules above. The detailed reason of a refusal
 * goes to the log; the error's message is the one shown (it does not tell
 * what an internal name resolves to).
 */
export function fetchClientMetadataDocument(clientId: string, options: { allowLoopback: boolean }): Promise<Fetched> {
  const limits = CLIENT_METADATA_DOCUMENT_LIMITS;
  const url = new URL(clientId);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host)) {
    const refused = refusedAddress(host, options.allowLoopback);
    if (refused) return Promise.reject(Object.assign(new ClientMetadataDocumentRefused('its address is not a public one'), { detail: `${host} is ${refused}` }));
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (message: string, detail: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.destroy();
      reject(Object.assign(new ClientMetadataDocumentRefused(message), { detail }));
    };
    const req = httpsRequest(url, {
      method: 'GET',
      headers: { accept: 'application/json', 'user-agent': 'Tessera (client ID metadata document)' },
      agent: false,
      lookup: checkedLookup(options.allowLoopback),
    }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) return fail('it answered with a redirect, which is not followed', `status ${status}`);
      if (status !== 200) return fail(`it answered with status ${status}`, `status ${status}`);
      if (!isJsonContentType(res.headers['content-type'])) return fail('it is not application/json', `content-type ${res.headers['content-type'] ?? 'none'}`);
      const declared = Number(res.headers['content-length']);
      if (declared > limits.maxBytes) return fail(`it is larger than ${limits.maxBytes} bytes`, `content-length ${declared}`);
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > limits.maxBytes) return fail(`it is larger than ${limits.maxBytes} bytes`, `more than ${limits.maxBytes} bytes`);
        chunks.push(chunk);
      });
      res.on('error', (error) => fail('it could not be read', error.message));
      res.on('end', () => {
        if (settled) return;
        let document: unknown;
        try {
          document = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return fail('it is not valid JSON', 'not JSON');
        }
        settled = true;
        clearTimeout(deadline);
        resolve({ document, cacheSeconds: documentCacheSeconds(res.headers['cache-control']) });
      });
    });
    const deadline = setTimeout(() => fail(`it did not answer within ${limits.timeoutMs} ms`, 'timeout'), limits.timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof AddressRefused) return fail('its host does not resolve to a public address', error.message);
      fail('it could not be fetched', error.code ?? error.message);
    });
    req.end();
  });
}

const isHttpsUrl = (value: unknown) => {
  if (typeof value !== 'string' || value.length > CLIENT_METADATA_DOCUMENT_LIMITS.maxUriLength) return false;
  try { return new URL(value).protocol === 'https:'; } catch { return false; }
};

const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token'];
const SHARED_SECRET_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt'];

/**
 * The provider metadata of a client from its document: only what Tessera
 * grants such a client, whatever else the document claims. Throws
 * ClientMetadataDocumentRefused naming what is wrong.
 */
export function clientMetadataFromDocument(clientId: string, document: unknown): Record<string, unknown> {
  const limits = CLIENT_METADATA_DOCUMENT_LIMITS;
  const refuse = (why: string) => { throw new ClientMetadataDocumentRefused(why); };
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return refuse('it is not a JSON object');
  const doc = document as Record<string, unknown>;
  // simple string comparison (the draft): the document speaks for this URL only
  if (doc.client_id !== clientId) return refuse('its client_id is not the URL it was fetched from');
  if ('client_secret' in doc || 'client_secret_expires_at' in doc) return refuse('it contains a client_secret: a published document cannot hold a secret');
  const method = doc.token_endpoint_auth_method ?? 'none';
  if (SHARED_SECRET_METHODS.includes(method as string)) return refuse(`token_endpoint_auth_method ${String(method)} needs a shared secret, which a published document cannot hold`);
  if (method !== 'none') return refuse('token_endpoint_auth_method must be "none" (Tessera treats these clients as public clients)');
  const redirectUris = doc.redirect_uris;
  if (!Array.isArray(redirectUris) || redirectUris.length === 0) return refuse('redirect_uris is missing: it must list the client\'s redirect URIs');
  if (redirectUris.length > limits.maxRedirectUris || !redirectUris.every((uri) => typeof uri === 'string' && uri.length <= limits.maxUriLength)) {
    return refuse(`redirect_uris must be at most ${limits.maxRedirectUris} URIs`);
  }
  // what the consent page and the logs show must be where the browser goes: a URI
  // written otherwise than a URL parser reads it (`https://evil\\@good/`, `%61pp`) is refused
  const misspelled = redirectUris.find((uri) => URL.parse(uri) !== null && URL.parse(uri)!.href !== uri);
  if (misspelled) return refuse(`redirect URI ${misspelled} is not written as a URL parser reads it: list "${URL.parse(misspelled)!.href}"`);
  // codes travel to these URIs: plain http only to this machine (RFC 8252 §7.3, native apps), never across a network
  const overPlainHttp = redirectUris.find((uri) => {
    try {
      const url = new URL(uri);
      return url.protocol === 'http:' && !['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
    } catch {
      return false; // the provider refuses what is not a URI
    }
  });
  if (overPlainHttp) return refuse(`redirect URI ${overPlainHttp} is plain http to another machine: use https (http only to 127.0.0.1, [::1] or localhost)`);
  const grantTypes = doc.grant_types === undefined ? ['authorization_code'] : doc.grant_types;
  if (!Array.isArray(grantTypes) || !grantTypes.includes('authorization_code')) return refuse('grant_types must include authorization_code');
  if (doc.response_types !== undefined && !(Array.isArray(doc.response_types) && doc.response_types.includes('code'))) return refuse('response_types must include code');
  const applicationType = doc.application_type ?? 'web';
  if (applicationType !== 'web' && applicationType !== 'native') return refuse('application_type must be web or native');
  const name = typeof doc.client_name === 'string' ? displayableName(doc.client_name).slice(0, limits.maxNameLength) : undefined;
  return {
    client_id: clientId,
    redirect_uris: [...redirectUris],
    // what the server supports of what the document lists (the draft lets an
    // authorization server ignore values it does not support)
    grant_types: SUPPORTED_GRANT_TYPES.filter((grant) => grantTypes.includes(grant)),
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    application_type: applicationType,
    // the OpenID Connect scopes; an API's scopes come from resource servers that
    // accept clients nobody registered (dynamic_clients), never from here
    allowed_scopes: [...OIDC_SCOPES],
    ...(name ? { client_name: name } : {}),
    ...(isHttpsUrl(doc.logo_uri) ? { logo_uri: doc.logo_uri } : {}),
    ...(isHttpsUrl(doc.client_uri) ? { client_uri: doc.client_uri } : {}),
  };
}

/**
 * A stranger's client_name as one line of plain text: bidirectional controls
 * (which would reorder the page around the name, e.g. show the host after it
 * reversed) dropped, control characters and line/paragraph separators made
 * spaces, runs of white space made one.
 */
function displayableName(name: string): string {
  return name
    .replace(/[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, '')
    .replace(/[\p{Cc}\u2028\u2029]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * How long a document is kept: its Cache-Control max-age within
 * [minCacheSeconds, maxCacheSeconds]. The floor holds for no-store too: a
 * client that asks to be fetched on every request would make each
 * authorization request an outgoing request.
 */
export function documentCacheSeconds(cacheControl: string | undefined): number {
  const { minCacheSeconds, maxCacheSeconds } = CLIENT_METADATA_DOCUMENT_LIMITS;
  return Math.min(maxCacheSeconds, Math.max(minCacheSeconds, maxAgeOf(cacheControl) ?? minCacheSeconds));
}

export type ClientMetadataDocuments = ReturnType<typeof createClientMetadataDocuments>;

/**
 * Documents by URL, cached in this process (bounded in time and number; the
 * same metadata object while cached, so the provider's built client is
 * reused). One fetch at a time per URL. A refusal is remembered briefly.
 */
export function createClientMetadataDocuments(options: ClientMetadataDocumentOptions) {
  const limits = CLIENT_METADATA_DOCUMENT_LIMITS;
  const fetchDocument = (clientId: string) => fetchClientMetadataDocument(clientId, options);
  const entries = new Map<string, { metadata?: Record<string, unknown>; refusal?: ClientMetadataDocumentRefused; expiresAt: number }>();
  const pending = new Map<string, Promise<Record<string, unknown>>>();

  function remember(clientId: string, entry: { metadata?: Record<string, unknown>; refusal?: ClientMetadataDocumentRefused; expiresAt: number }) {
    entries.delete(clientId);
    if (entries.size >= limits.maxEntries) entries.delete(entries.keys().next().value!); // oldest first
    entries.set(clientId, entry);
  }

  async function load(clientId: string): Promise<Record<string, unknown>> {
    try {
      const fetched = await fetchDocument(clientId);
      const metadata = clientMetadataFromDocument(clientId, fetched.document);
      remember(clientId, { metadata, expiresAt: Date.now() + fetched.cacheSeconds * 1000 });
      return metadata;
    } catch (error) {
      const refusal = error instanceof ClientMetadataDocumentRefused ? error : new ClientMetadataDocumentRefused('it could not be fetched');
      options.onRefused?.(clientId, (error as { detail?: string }).detail ? `${refusal.message} (${(error as { detail?: string }).detail})` : refusal.message);
      remember(clientId, { refusal, expiresAt: Date.now() + limits.refusalCacheMs });
      throw refusal;
    } finally {
      pending.delete(clientId);
    }
  }

  return {
    /** The client's provider metadata; throws ClientMetadataDocumentRefused. Only for ids isClientIdUrl accepts. */
    async find(clientId: string): Promise<Record<string, unknown>> {
      if (!isClientIdUrl(clientId)) throw new ClientMetadataDocumentRefused('the client_id is not a valid client ID metadata document URL');
      const hit = entries.get(clientId);
      if (hit && hit.expiresAt > Date.now()) {
        if (hit.refusal) throw hit.refusal;
        return hit.metadata!;
      }
      let loading = pending.get(clientId);
      if (!loading) {
        loading = load(clientId);
        pending.set(clientId, loading);
      }
      return loading;
    },
  };
}
