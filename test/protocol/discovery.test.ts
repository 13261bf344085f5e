// Issue 14, "done means" 7: discovery advertises nothing that a test does not
// exercise. The table below names, for every field of
// /.well-known/openid-configuration (and /.well-known/oauth-authorization-server)
// and every value of its list fields, the test file that exercises it. This
// test fetches both documents from started servers and fails when
//   - discovery advertises a field or value that has no row (untested),
//   - a row names something discovery does not advertise (stale), or
//   - a row's test file does not exist or does not contain the row's evidence
//     (by default the value itself, as a string).
//
// HOW TO ADD A ROW (a feature that changes discovery): write the test that
// exercises the value first, then add one row per value:
//   { field: 'grant_types_supported', value: 'urn:ietf:params:oauth:grant-type:device_code', test: 'test/…/device-flow.test.ts' }
// Endpoints are written with `{issuer}` (`'{issuer}/device/auth'`); their
// default evidence is the path. For a boolean (or a value the file cannot
// contain as written) give `evidence`: a string the file must contain that
// shows the value is exercised. A value that only a configured server
// advertises goes in the rows of that server (MTLS_ROWS); add a server the
// same way (a name, its configuration, its rows) for a feature behind a switch.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { REPO_ROOT } from '../support/process.ts';

interface Row {
  /** the discovery field */
  readonly field: string;
  /** one value (one element of a list field); `{issuer}` stands for the server's issuer */
  readonly value: string | boolean;
  /** the test file that exercises it, from the repository root */
  readonly test: string;
  /** what that file must contain (default: the value; for an endpoint, its path) */
  readonly evidence?: string;
}

const ADVERTISED = 'test/protocol/advertised.test.ts';
const LOGOUT = 'test/e2e/rp-initiated-logout.test.ts';
const KEYS = 'test/integration/key-based-clients.test.ts';
const DEVICE = 'test/integration/device-flow.test.ts';

/** What every server advertises. */
const ROWS: readonly Row[] = [
  { field: 'issuer', value: '{issuer}', test: 'test/e2e/openid-client.test.ts', evidence: 'metadata.issuer' },
  // endpoints
  { field: 'authorization_endpoint', value: '{issuer}/auth', test: ADVERTISED, evidence: 'authorizationRequest' },
  { field: 'token_endpoint', value: '{issuer}/token', test: ADVERTISED, evidence: 'grant_type' },
  { field: 'userinfo_endpoint', value: '{issuer}/me', test: ADVERTISED },
  { field: 'jwks_uri', value: '{issuer}/jwks', test: ADVERTISED },
  { field: 'introspection_endpoint', value: '{issuer}/token/introspection', test: ADVERTISED },
  { field: 'revocation_endpoint', value: '{issuer}/token/revocation', test: ADVERTISED },
  { field: 'end_session_endpoint', value: '{issuer}/session/end', test: LOGOUT },
  { field: 'pushed_authorization_request_endpoint', value: '{issuer}/request', test: ADVERTISED },
  { field: 'device_authorization_endpoint', value: '{issuer}/device/auth', test: DEVICE },
  // grants and responses
  { field: 'grant_types_supported', value: 'authorization_code', test: ADVERTISED },
  { field: 'grant_types_supported', value: 'refresh_token', test: ADVERTISED },
  { field: 'grant_types_supported', value: 'client_credentials', test: ADVERTISED },
  { field: 'grant_types_supported', value: 'password', test: 'test/grants/password.test.ts', evidence: "grant_type: 'password'" },
  { field: 'grant_types_supported', value: 'urn:ietf:params:oauth:grant-type:token-exchange', test: 'test/integration/token-exchange.test.ts' },
  { field: 'grant_types_supported', value: 'urn:ietf:params:oauth:grant-type:device_code', test: DEVICE },
  { field: 'response_types_supported', value: 'code', test: ADVERTISED, evidence: "response_mode: 'query'" },
  { field: 'response_modes_supported', value: 'query', test: ADVERTISED },
  { field: 'response_modes_supported', value: 'fragment', test: ADVERTISED },
  { field: 'response_modes_supported', value: 'form_post', test: 'test/e2e/provider-pages.test.ts' },
  { field: 'authorization_response_iss_parameter_supported', value: true, test: ADVERTISED, evidence: "searchParams.get('iss')" },
  { field: 'code_challenge_methods_supported', value: 'S256', test: ADVERTISED, evidence: 'authorizationRequest' },
  { field: 'request_uri_parameter_supported', value: false, test: ADVERTISED, evidence: 'request_uri_not_supported' },
  { field: 'claims_parameter_supported', value: false, test: ADVERTISED, evidence: 'claims_parameter_supported false' },
  // client authentication
  { field: 'token_endpoint_auth_methods_supported', value: 'client_secret_basic', test: 'test/e2e/openid-client.test.ts', evidence: 'ClientSecretBasic' },
  { field: 'token_endpoint_auth_methods_supported', value: 'client_secret_post', test: ADVERTISED },
  { field: 'token_endpoint_auth_methods_supported', value: 'none', test: ADVERTISED },
  // key-based clients (private_key_jwt) and signed request objects (JAR)
  { field: 'token_endpoint_auth_methods_supported', value: 'private_key_jwt', test: KEYS },
  ...['RS256', 'PS256', 'ES256', 'EdDSA'].flatMap((value) => [
    { field: 'token_endpoint_auth_signing_alg_values_supported', value, test: KEYS },
    { field: 'request_object_signing_alg_values_supported', value, test: KEYS },
  ]),
  { field: 'request_parameter_supported', value: true, test: KEYS, evidence: 'request_parameter_supported' },
  // tokens and claims
  { field: 'id_token_signing_alg_values_supported', value: 'RS256', test: ADVERTISED },
  { field: 'subject_types_supported', value: 'public', test: ADVERTISED },
  { field: 'claim_types_supported', value: 'normal', test: ADVERTISED },
  { field: 'acr_values_supported', value: 'pwd', test: ADVERTISED },
  { field: 'acr_values_supported', value: 'mfa', test: 'test/integration/mfa-required.test.ts' },
  ...['openid', 'profile', 'email', 'roles', 'offline_access'].map((value) => ({ field: 'scopes_supported', value, test: ADVERTISED })),
  ...['sub', 'acr', 'amr', 'preferred_username', 'name', 'updated_at', 'email', 'email_verified', 'roles', 'sid', 'auth_time', 'iss']
    .map((value) => ({ field: 'claims_supported', value, test: ADVERTISED, evidence: `${value}:` })),
  // DPoP (RFC 9449)
  { field: 'dpop_signing_alg_values_supported', value: 'ES256', test: 'test/integration/dpop.test.ts' },
  { field: 'dpop_signing_alg_values_supported', value: 'Ed25519', test: ADVERTISED },
  { field: 'dpop_signing_alg_values_supported', value: 'EdDSA', test: ADVERTISED },
  // logout
  { field: 'backchannel_logout_supported', value: true, test: LOGOUT, evidence: 'logout_token' },
  { field: 'backchannel_logout_session_supported', value: true, test: LOGOUT, evidence: 'sid, events' },
];

/** What a server with mTLS (TLS_CLIENT_CA_FILE or TLS_CLIENT_CERT_HEADER) advertises besides. */
const MTLS_ROWS: readonly Row[] = [
  ...ROWS,
  { field: 'token_endpoint_auth_methods_supported', value: 'tls_client_auth', test: 'test/integration/mtls.test.ts' },
  { field: 'token_endpoint_auth_methods_supported', value: 'self_signed_tls_client_auth', test: 'test/integration/self-signed-mtls.test.ts' },
  { field: 'tls_client_certificate_bound_access_tokens', value: true, test: 'test/integration/mtls.test.ts', evidence: 'cnf' },
];

/** What a server with dynamic client registration on (DYNAMIC_REGISTRATION token or open) advertises besides. */
const REGISTRATION_ROWS: readonly Row[] = [
  ...ROWS,
  { field: 'registration_endpoint', value: '{issuer}/reg', test: 'test/registration/dynamic-registration.test.ts', evidence: 'dynamicClientRegistration(new URL(server.issuer)' },
];

/** What a server with client ID metadata documents on (CLIENT_ID_METADATA_DOCUMENTS=true) advertises besides. */
const CLIENT_METADATA_DOCUMENT_ROWS: readonly Row[] = [
  ...ROWS,
  { field: 'client_id_metadata_document_supported', value: true, test: 'test/e2e/mcp.test.ts', evidence: 'expect(as.client_id_metadata_document_supported).toBe(true)' },
];

type Pair = readonly [field: string, value: string | boolean];
const key = ([field, value]: Pair) => `${field} = ${JSON.stringify(value)}`;

/** A discovery document as (field, value) pairs: one per element of a list, one per member of an object (`field.member`). */
function pairsOf(document: Record<string, unknown>): Pair[] {
  const pairs: Pair[] = [];
  const add = (field: string, value: unknown) => {
    if (Array.isArray(value)) for (const element of value) add(field, element);
    else if (value !== null && typeof value === 'object') for (const [member, inner] of Object.entries(value)) add(`${field}.${member}`, inner);
    else pairs.push([field, typeof value === 'boolean' ? value : String(value)]);
  };
  for (const [field, value] of Object.entries(document)) add(field, value);
  return pairs;
}

/** Everything wrong between an advertised document and the rows; empty when they agree and every row's test exists and shows it. */
function discoveryProblems(document: Record<string, unknown>, rows: readonly Row[], issuer: string, readTest: (path: string) => string | undefined): string[] {
  const problems: string[] = [];
  const valueOf = (row: Row) => (typeof row.value === 'string' ? row.value.replaceAll('{issuer}', issuer) : row.value);
  const expected = new Map(rows.map((row) => [key([row.field, valueOf(row)]), row]));
  const advertised = new Set(pairsOf(document).map(key));
  for (const pair of advertised) if (!expected.has(pair)) problems.push(`advertised without a row (no test exercises it): ${pair}`);
  for (const [pair] of expected) if (!advertised.has(pair)) problems.push(`a row names what discovery does not advertise: ${pair}`);
  for (const row of rows) {
    const text = readTest(row.test);
    const evidence = row.evidence ?? (typeof row.value === 'string' ? row.value.replace('{issuer}', '') : undefined);
    if (text === undefined) problems.push(`${key([row.field, row.value])}: its test ${row.test} does not exist`);
    else if (evidence === undefined) problems.push(`${key([row.field, row.value])}: a boolean row needs its evidence`);
    else if (!text.includes(evidence)) problems.push(`${key([row.field, row.value])}: ${row.test} does not mention ${JSON.stringify(evidence)}`);
  }
  return problems;
}

function readTestFile(path: string): string | undefined {
  const full = join(REPO_ROOT, path);
  return existsSync(full) ? readFileSync(full, 'utf8') : undefined;
}

async function discoveryDocuments(server: TestServer): Promise<Record<string, Record<string, unknown>>> {
  const documents: Record<string, Record<string, unknown>> = {};
  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    const res = await fetch(new URL(path, server.url));
    expect(res.status).toBe(200);
    documents[path] = await res.json() as Record<string, unknown>;
  }
  return documents;
}

describe('discovery advertises exactly what the tests exercise', () => {
  const servers: Array<{ name: string; rows: readonly Row[]; start: () => Promise<TestServer> }> = [
    { name: 'a server as configured by default', rows: ROWS, start: () => startTestServer() },
    {
      name: 'a server with mTLS (a trusted proxy\'s certificate header)',
      rows: MTLS_ROWS,
      start: () => startTestServer({ config: { proxy: { addresses: ['127.0.0.2/32'] }, tls: { clientCertificateHeader: 'X-Client-Cert' } } }),
    },
    {
      name: 'a server with dynamic client registration (DYNAMIC_REGISTRATION=token)',
      rows: REGISTRATION_ROWS,
      start: () => startTestServer({ config: { dynamicRegistration: { mode: 'token' } } }),
    },
    {
      name: 'a server with client ID metadata documents',
      rows: CLIENT_METADATA_DOCUMENT_ROWS,
      start: () => startTestServer({ config: { clientMetadataDocuments: { enabled: true } } }),
    },
  ];

  for (const { name, rows, start } of servers) {
    describe(name, () => {
      let server: TestServer;
      beforeAll(async () => { server = await start(); });
      afterAll(async () => { await server?.stop(); });

      test('openid-configuration and oauth-authorization-server: every advertised value has a row, every row is advertised, every row\'s test shows it', async () => {
        const documents = await discoveryDocuments(server);
        for (const [path, document] of Object.entries(documents)) {
          expect({ path, problems: discoveryProblems(document, rows, server.issuer, readTestFile) }).toEqual({ path, problems: [] });
        }
      });
    });
  }

  test('the comparison fails on a value added without a row, a row not advertised, a missing test file, a file that does not show the value', () => {
    const issuer = 'https://id.example.test';
    const rows: Row[] = [
      { field: 'issuer', value: '{issuer}', test: 'kept.test.ts', evidence: 'issuer' },
      { field: 'grant_types_supported', value: 'authorization_code', test: 'kept.test.ts' },
      { field: 'grant_types_supported', value: 'password', test: 'gone.test.ts' },
      { field: 'scopes_supported', value: 'openid', test: 'kept.test.ts' },
      { field: 'claims_parameter_supported', value: false, test: 'kept.test.ts' },
    ];
    const files: Record<string, string> = { 'kept.test.ts': "issuer authorization_code grant_type: 'password'" };
    const document = {
      issuer,
      grant_types_supported: ['authorization_code', 'password', 'implicit'],
      claims_parameter_supported: false,
      mtls_endpoint_aliases: { token_endpoint: `${issuer}/mtls/token` },
    };
    expect(discoveryProblems(document, rows, issuer, (path) => files[path]).sort()).toEqual([
      'a row names what discovery does not advertise: scopes_supported = "openid"',
      'advertised without a row (no test exercises it): grant_types_supported = "implicit"',
      `advertised without a row (no test exercises it): mtls_endpoint_aliases.token_endpoint = "${issuer}/mtls/token"`,
      'claims_parameter_supported = false: a boolean row needs its evidence',
      'grant_types_supported = "password": its test gone.test.ts does not exist',
      'scopes_supported = "openid": kept.test.ts does not mention "openid"',
    ].sort());
    // and the table of this file, against a document with one value more than a default server advertises
    const withJwtBearer = { ...Object.fromEntries(ROWS.filter((r) => r.field === 'issuer').map((r) => [r.field, issuer])), grant_types_supported: ['urn:ietf:params:oauth:grant-type:jwt-bearer'] };
    expect(discoveryProblems(withJwtBearer, ROWS, issuer, readTestFile)).toContain(
      'advertised without a row (no test exercises it): grant_types_supported = "urn:ietf:params:oauth:grant-type:jwt-bearer"',
    );
  });
});
