// T166 from outside: a jwks_uri is checked when it is registered, and again
// when the keys are fetched. A host name is not judged at registration (it
// may resolve anywhere later). The real process's fetch guard (oidc-provider's
// dispatcher) refuses the connection once the name resolves to a special-use
// address. The machine's own host name resolves to loopback here. Jest's VM
// context has no undici dispatcher to guard, so only a real
// `node src/main.ts serve` shows this. The server runs with
// JWKS_URI_ALLOW_LOOPBACK: a loopback *name* (localhost) is then let through,
// which is the control. The same https server, the same keys and a trusted
// certificate serve the other name, which is not let through.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, type Server } from 'node:https';
import { lookup } from 'node:dns/promises';
import { hostname, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { freePort, spawnTessera, waitForOk, type TesseraProcess } from '../support/process.ts';
import { runTesseraCli } from '../support/cli.ts';
import { createCertificateAuthority, type CertificateAuthority } from '../support/certificate-authority.ts';
import { isLoopbackHost } from '../../src/http/index.ts';

describe('jwks_uri: where a host name resolves to a special-use address, the keys are not fetched (tessera serve)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-jwks-uri-'));
  let proc: TesseraProcess;
  let issuer: string;
  let cliEnv: NodeJS.ProcessEnv;
  let ca: CertificateAuthority;
  let keyServer: Server;
  let keyServerPort: number;
  let requests = 0;
  let privateKey: CryptoKey;
  let nameResolvesToLoopback = false;

  beforeAll(async () => {
    const addresses = await lookup(hostname(), { all: true }).catch(() => []);
    nameResolvesToLoopback = addresses.length > 0 && addresses.every((a) => isLoopbackHost(a.address)) && !isLoopbackHost(hostname());
    // an https server the Tessera process trusts (NODE_EXTRA_CA_CERTS), for localhost and the machine's name
    ca = await createCertificateAuthority();
    const certificate = await ca.issue('keys', `/CN=${hostname()}`, ['DNS:localhost', `DNS:${hostname()}`]);
    const keys = await generateKeyPair('ES256');
    privateKey = keys.privateKey;
    const publicJwk = await exportJWK(keys.publicKey);
    keyServer = createServer({ cert: readFileSync(certificate.certFile), key: readFileSync(certificate.keyFile) }, (_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
    keyServerPort = (keyServer.address() as { port: number }).port;

    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    proc = spawnTessera(['serve'], {
      PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), LOG_LEVEL: 'warn',
      JWKS_URI_ALLOW_LOOPBACK: 'true', NODE_EXTRA_CA_CERTS: ca.caFile,
    }, port);
    await waitForOk(`${proc.url}/.well-known/openid-configuration`, proc, 30_000);
    cliEnv = { PATH: process.env.PATH, ISSUER: issuer, KEYS_DIR: join(dir, 'keys'), LOG_LEVEL: 'silent' };
  }, 60_000);

  afterAll(async () => {
    await proc?.stop();
    keyServer?.closeAllConnections();
    keyServer?.close();
    ca?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A key client whose keys are at `jwksUri`, created with the CLI; its client_id. */
  async function keyClient(jwksUri: string): Promise<string> {
    const run = await runTesseraCli(['clients', 'create', '--name', 'sync', '--grant-types', 'client_credentials',
      '--token-endpoint-auth-method', 'private_key_jwt', '--jwks-uri', jwksUri, '--json'], cliEnv);
    expect(run.stderr).toBe('');
    return run.json.client_id;
  }

  async function authenticate(clientId: string): Promise<number> {
    const assertion = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(clientId).setSubject(clientId)
      .setAudience(issuer).setJti(randomUUID()).setIssuedAt().setExpirationTime('1m').sign(privateKey);
    const res = await fetch(`${proc.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
    });
    return res.status;
  }

  test('private, link-local and reserved addresses are refused at registration even with the loopback flag', async () => {
    for (const uri of ['https://192.168.0.10/jwks', 'https://169.254.169.254/jwks', 'https://[fe80::1]/jwks', 'http://keys.example/jwks']) {
      const run = await runTesseraCli(['clients', 'create', '--name', 'x', '--grant-types', 'client_credentials',
        '--token-endpoint-auth-method', 'private_key_jwt', '--jwks-uri', uri], cliEnv);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/jwks_uri/);
    }
  });

  test('control: at localhost (flag set) the keys are fetched and the client authenticates', async () => {
    const before = requests;
    expect(await authenticate(await keyClient(`https://localhost:${keyServerPort}/jwks`))).toBe(200);
    expect(requests).toBe(before + 1);
  });

  test('the machine\'s name, which resolves to 127.0.0.1: the connection is cut before any request, the client is refused', async () => {
    if (!nameResolvesToLoopback) {
      console.warn(`skipped: ${hostname()} does not resolve to loopback alone on this machine`);
      return;
    }
    const before = requests;
    expect(await authenticate(await keyClient(`https://${hostname()}:${keyServerPort}/jwks`))).toBe(401);
    expect(requests).toBe(before);
  });
});
