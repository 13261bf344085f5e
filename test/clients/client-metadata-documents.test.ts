// The rules of client ID metadata documents that need no network: which
// client_ids are document URLs, what a document grants (only what Tessera
// decides), how long one is kept, which addresses may be fetched from.
// The fetch itself, end to end: test/e2e/mcp.test.ts.
import { describe, test, expect } from '@jest/globals';
import {
  CLIENT_METADATA_DOCUMENT_LIMITS, clientMetadataFromDocument, documentCacheSeconds, isClientIdUrl, OIDC_SCOPES,
  refusedDocumentAddress,
} from '../../src/clients/index.ts';

const ID = 'https://app.example.com/oauth/client.json';

describe('isClientIdUrl', () => {
  test.each([
    ID,
    'https://app.example.com/c',
    'https://app.example.com:8443/c?v=1',
    'https://[2001:4860:4860::8888]/c',
  ])('%s is a document URL', (id) => expect(isClientIdUrl(id)).toBe(true));

  test.each([
    ['http (not https)', 'http://app.example.com/c'],
    ['no path', 'https://app.example.com'],
    ['only a slash', 'https://app.example.com/'],
    ['a fragment', 'https://app.example.com/c#x'],
    ['credentials', 'https://user:pass@app.example.com/c'],
    ['a user name', 'https://user@app.example.com/c'],
    ['a dot segment', 'https://app.example.com/a/../c'],
    ['an encoded dot segment', 'https://app.example.com/a/%2e%2e/c'],
    ['a single dot segment', 'https://app.example.com/./c'],
    ['a space', 'https://app.example.com/a c'],
    ['a backslash', 'https://app.example.com\\c'],
    ['an ordinary client id', 'tessera-account'],
    ['too long', `https://app.example.com/${'a'.repeat(CLIENT_METADATA_DOCUMENT_LIMITS.maxUriLength)}`],
    ['not a string', 42],
  ])('%s: not a document URL', (_why, id) => expect(isClientIdUrl(id)).toBe(false));
});

describe('clientMetadataFromDocument: Tessera decides what the client gets', () => {
  const minimal = { client_id: ID, redirect_uris: ['https://app.example.com/cb'] };

  test('a minimal document: a public web client, code only, the OIDC scopes, nothing else', () => {
    expect(clientMetadataFromDocument(ID, minimal)).toEqual({
      client_id: ID,
      redirect_uris: ['https://app.example.com/cb'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'web',
      allowed_scopes: OIDC_SCOPES,
    });
  });

  test('redirect URIs: https, http to loopback (native apps, RFC 8252), private-use schemes for the provider to judge', () => {
    const uris = ['https://app.example.com/cb', 'http://127.0.0.1:33418/callback', 'http://localhost:8080/cb', 'http://[::1]/cb', 'com.example.app:/cb'];
    expect(clientMetadataFromDocument(ID, { ...minimal, application_type: 'native', redirect_uris: uris }).redirect_uris).toEqual(uris);
  });

  test('what a document claims beyond that is dropped: first party, allow-lists, other grants, keys, non-https URIs', () => {
    const metadata = clientMetadataFromDocument(ID, {
      ...minimal,
      client_name: '  Notes  ',
      logo_uri: 'https://app.example.com/logo.png',
      client_uri: 'http://app.example.com/',
      first_party: true,
      require_mfa: false,
      allowed_scopes: ['admin'],
      introspect_for: ['https://api.example.com'],
      scope: 'admin openid',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials', 'password'],
      jwks_uri: 'https://app.example.com/jwks',
      web_origins: ['*'],
      application_type: 'native',
    });
    expect(metadata).toEqual({
      client_id: ID,
      redirect_uris: ['https://app.example.com/cb'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      allowed_scopes: OIDC_SCOPES,
      client_name: 'Notes',
      logo_uri: 'https://app.example.com/logo.png',
    });
  });

  // T179: a name that reorders the page around it (U+202E turns "(evil.example)" into "(elpmaxe.live)"),
  // or breaks lines, could make the consent page say something else about who is asking
  test('client_name loses control and bidirectional-formatting characters (T179)', () => {
    const name = 'Notes\u202E\u2066 \u0007by\nAcme\u200F\u2029\u061C';
    expect(clientMetadataFromDocument(ID, { ...minimal, client_name: name }).client_name).toBe('Notes by Acme');
    expect(clientMetadataFromDocument(ID, { ...minimal, client_name: '\u202E\u202C' })).not.toHaveProperty('client_name');
  });

  test.each([
    ['not an object', [minimal], /not a JSON object/],
    ['null', null, /not a JSON object/],
    ['another client_id', { ...minimal, client_id: 'https://app.example.com/oauth/other.json' }, /client_id is not the URL/],
    ['the client_id differing in case only', { ...minimal, client_id: ID.toUpperCase() }, /client_id is not the URL/],
    ['the client_id missing', { redirect_uris: minimal.redirect_uris }, /client_id is not the URL/],
    ['a client_secret', { ...minimal, client_secret: 'x' }, /client_secret/],
    ['client_secret_expires_at', { ...minimal, client_secret_expires_at: 0 }, /client_secret/],
    ['client_secret_basic', { ...minimal, token_endpoint_auth_method: 'client_secret_basic' }, /shared secret/],
    ['client_secret_jwt', { ...minimal, token_endpoint_auth_method: 'client_secret_jwt' }, /shared secret/],
    ['private_key_jwt', { ...minimal, token_endpoint_auth_method: 'private_key_jwt' }, /must be "none"/],
    ['no redirect_uris', { client_id: ID }, /redirect_uris is missing/],
    ['empty redirect_uris', { ...minimal, redirect_uris: [] }, /redirect_uris is missing/],
    ['too many redirect_uris', { ...minimal, redirect_uris: Array.from({ length: 21 }, (_, i) => `https://app.example.com/${i}`) }, /at most 20/],
    ['a redirect URI that is not a string', { ...minimal, redirect_uris: [{}] }, /at most 20/],
    ['a plain http redirect URI to another machine', { ...minimal, redirect_uris: ['http://app.example.com/cb'] }, /plain http to another machine/],
    ['a redirect URI that shows one host and goes to another', { ...minimal, redirect_uris: ['https://evil.example\\@good.example/cb'] }, /not written as a URL parser reads it: list "https:\/\/evil.example\/@good.example\/cb"/],
    ['a redirect URI with an escaped letter', { ...minimal, redirect_uris: ['https://%61pp.example.com/cb'] }, /list "https:\/\/app.example.com\/cb"/],
    ['no authorization_code', { ...minimal, grant_types: ['client_credentials'] }, /authorization_code/],
    ['response types without code', { ...minimal, response_types: ['token'] }, /response_types/],
    ['an unknown application_type', { ...minimal, application_type: 'service' }, /application_type/],
  ])('%s: refused', (_why, document, message) => {
    expect(() => clientMetadataFromDocument(ID, document)).toThrow(message);
  });
});

describe('documentCacheSeconds: Cache-Control max-age within [60 s, 24 h]', () => {
  test.each([
    [undefined, 60],
    ['max-age=600', 600],
    ['public, max-age=3600', 3600],
    ['max-age=0', 60],
    ['max-age=5', 60],
    ['no-store', 60],
    ['no-cache, max-age=600', 60],
    ['max-age=31536000', 86400],
    ['max-age=99999999999999', 86400],
    ['private', 60],
  ])('%s → %d', (header, seconds) => expect(documentCacheSeconds(header)).toBe(seconds));
});

describe('refusedAddress: which addresses a document may be fetched from', () => {
  test.each([
    '10.0.0.8', '172.16.0.1', '192.168.1.20', '100.64.0.1', '169.254.169.254', '0.0.0.0', '224.0.0.1', '255.255.255.255',
    '192.0.2.1', 'fd00::1', 'fe80::1', 'ff02::1', '::', '::ffff:10.0.0.8', '::ffff:127.0.0.1', '::ffff:169.254.169.254',
    '64:ff9b::a00:8', '2002:a00:8::1', '2001::1', '2001:db8::1',
  ])('%s: refused, loopback allowed or not', (address) => {
    expect(refusedDocumentAddress(address, false)).toBeDefined();
    expect(refusedDocumentAddress(address, true)).toBeDefined();
  });

  test.each(['127.0.0.1', '127.1.2.3', '::1'])('%s (loopback): only with CLIENT_METADATA_ALLOW_LOOPBACK', (address) => {
    expect(refusedDocumentAddress(address, false)).toMatch(/CLIENT_METADATA_ALLOW_LOOPBACK/);
    expect(refusedDocumentAddress(address, true)).toBeUndefined();
  });

  test.each(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'])('%s (public): allowed', (address) => {
    expect(refusedDocumentAddress(address, false)).toBeUndefined();
  });
});
