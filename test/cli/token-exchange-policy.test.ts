/*
 * The token-exchange policy set from outside, as an operator does: a real
 * `tessera serve` process (embedded defaults), and the CLI in child processes
 * — `tessera clients create ... --token-exchange-audiences` grants a service
 * exactly the audiences named (absent: none), `clients update` narrows it,
 * and `tessera audit list` shows the exchanges, issued and refused.
 * (Issue 14, done-means 4: the CLI-driven part.)
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { freePort, spawnTessera, waitForOk, type TesseraProcess } from '../support/process.ts';
import { runTesseraCli } from '../support/cli.ts';
import { passwordGrant, tokenRequest, type ClientCredentials } from '../support/oauth.ts';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ORDERS = 'https://orders.cli-exchange.test';
const BILLING = 'https://billing.cli-exchange.test';
const SHIPPING = 'https://shipping.cli-exchange.test';
const PASSWORD = 'a long and unguessable passphrase';

describe('token-exchange policy through the CLI, against tessera serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-exchange-cli-'));
  let proc: TesseraProcess;
  let issuer: string;
  let app: ClientCredentials;

  const env = () => ({ PATH: process.env.PATH, ISSUER: issuer, KEYS_DIR: join(dir, 'keys'), LOG_LEVEL: 'silent' });
  const tessera = (args: string[], stdin = '') => runTesseraCli(args, env(), stdin);

  async function createClient(args: string[]): Promise<ClientCredentials & { json: Record<string, unknown> }> {
    const run = await tessera(['clients', 'create', ...args, '--json']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    return { clientId: run.json.client_id, clientSecret: run.json.client_secret, json: run.json };
  }

  /** The person's token for the orders API (the password grant of the first-party app). */
  async function ordersToken(): Promise<string> {
    const answer = await passwordGrant(proc.url, app, { username: 'pat', password: PASSWORD, resource: ORDERS, scope: 'read write' });
    expect(answer.status).toBe(200);
    return answer.body.access_token!;
  }

  const exchange = (client: ClientCredentials, subject: string, resource: string, scope?: string) => tokenRequest(proc.url, {
    grant_type: TOKEN_EXCHANGE, subject_token: subject, subject_token_type: ACCESS_TOKEN, resource, ...(scope ? { scope } : {}),
  }, client);

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    proc = spawnTessera(['serve'], { PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), LOG_LEVEL: 'warn' }, port);
    await waitForOk(`${proc.url}/.well-known/openid-configuration`, proc, 30_000);
    for (const [identifier, scopes] of [[ORDERS, 'read write'], [BILLING, 'read write'], [SHIPPING, 'read']]) {
      expect((await tessera(['resources', 'create', '--identifier', identifier, '--scopes', scopes, '--token-format', 'jwt'])).code).toBe(0);
    }
    expect((await tessera(['users', 'create', '--username', 'pat', '--password-stdin'], PASSWORD)).code).toBe(0);
    app = await createClient(['--name', 'shop app', '--grant-types', 'password', '--first-party', '--scopes', 'read write']);
  }, 60_000);

  afterAll(async () => {
    await proc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('clients create --token-exchange-audiences: exactly those audiences; none without it', async () => {
    const orders = await createClient(['--name', 'orders service', '--grant-types', TOKEN_EXCHANGE, '--scopes', 'read write',
      '--introspect-for', ORDERS, '--token-exchange-audiences', BILLING]);
    expect(orders.json).toMatchObject({ grant_types: [TOKEN_EXCHANGE], token_exchange_audiences: [BILLING], token_exchange_impersonation: false });
    const unconfigured = await createClient(['--name', 'no policy', '--grant-types', TOKEN_EXCHANGE, '--scopes', 'read', '--introspect-for', ORDERS]);
    expect(unconfigured.json).toMatchObject({ token_exchange_audiences: [] });

    const subject = await ordersToken();
    const toBilling = await exchange(orders, subject, BILLING, 'read');
    expect(toBilling).toMatchObject({ status: 200, body: { issued_token_type: ACCESS_TOKEN, scope: 'read' } });
    expect(decodeJwt(toBilling.body.access_token!)).toMatchObject({ aud: BILLING, scope: 'read', act: { sub: orders.clientId } });
    // not in the policy
    expect(await exchange(orders, subject, SHIPPING)).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    // absent policy: nothing
    expect(await exchange(unconfigured, subject, BILLING)).toMatchObject({ status: 400, body: { error: 'invalid_target' } });

    // clients update narrows it: "" empties the list
    const emptied = await tessera(['clients', 'update', orders.clientId, '--token-exchange-audiences', '', '--json']);
    expect(emptied.code).toBe(0);
    expect(emptied.json).toMatchObject({ token_exchange_audiences: [] });
    expect(await exchange(orders, subject, BILLING)).toMatchObject({ status: 400, body: { error: 'invalid_target' } });

    // and --token-exchange-impersonation drops the act claim naming it
    const widened = await tessera(['clients', 'update', orders.clientId, '--token-exchange-audiences', `${BILLING},${SHIPPING}`, '--token-exchange-impersonation', '--json']);
    expect(widened.json).toMatchObject({ token_exchange_audiences: [BILLING, SHIPPING], token_exchange_impersonation: true });
    const impersonated = await exchange(orders, subject, SHIPPING);
    expect(impersonated.status).toBe(200);
    expect(decodeJwt(impersonated.body.access_token!).act).toBeUndefined();
  });

  test('the CLI refuses a policy naming an unregistered audience or a client not registered for the grant, naming the field', async () => {
    const unknown = await tessera(['clients', 'create', '--name', 'x', '--grant-types', TOKEN_EXCHANGE, '--scopes', 'read', '--token-exchange-audiences', 'https://nowhere.cli-exchange.test', '--json']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stderr)).toMatchObject({ status: 400, errors: [{ field: 'token_exchange_audiences' }] });
    const withoutGrant = await tessera(['clients', 'create', '--name', 'y', '--grant-types', 'client_credentials', '--scopes', 'read', '--token-exchange-audiences', BILLING, '--json']);
    expect(withoutGrant.code).toBe(1);
    expect(JSON.parse(withoutGrant.stderr)).toMatchObject({ status: 400, errors: [{ field: 'token_exchange_audiences' }] });
    const publicClient = await tessera(['clients', 'create', '--name', 'z', '--grant-types', TOKEN_EXCHANGE, '--public', '--json']);
    expect(publicClient.code).toBe(1);
    expect(JSON.parse(publicClient.stderr)).toMatchObject({ status: 400, errors: [{ field: 'grant_types' }] });
  });

  /**
   * Request-path audit events are written in batches (within the audit log's
   * flush delay, src/audit/audit-log.ts): a process outside reads until the
   * batch holding them is there.
   */
  async function auditList(type: string, enough: (items: Array<{ details: Record<string, string> }>) => boolean) {
    for (;;) {
      const run = await tessera(['audit', 'list', '--type', type, '--json']);
      expect(run.code).toBe(0);
      if (enough(run.json.items)) return run.json.items as Array<{ details: Record<string, string> }>;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  test('tessera audit list shows the exchanges, issued and refused', async () => {
    const issued = await auditList('token.exchanged', (items) => items.length >= 2);
    expect(issued.map((e) => e.details.audience)).toEqual(expect.arrayContaining([BILLING, SHIPPING]));
    expect(issued.find((e) => e.details.mode === 'impersonation')).toMatchObject({ details: { audience: SHIPPING } });
    expect(issued.find((e) => e.details.mode === 'delegation')).toMatchObject({ details: { audience: BILLING, scope: 'read' } });
    const refused = await auditList('token.exchange_refused', (items) => items.length >= 3);
    expect(refused.every((e) => e.details.error === 'invalid_target')).toBe(true);
  });
});
