/*
 * Settings that work but leave a hole open are named in one warn line at
 * start; settings that can never be safe are refused by the configuration.
 */
import { describe, expect, test } from '@jest/globals';
import { loadConfig, ConfigError } from '../../src/config/index.ts';
import { riskyConfiguration } from '../../src/server/risky-configuration.ts';
import { isLoopbackHost } from '../../src/http/index.ts';
import { startTestServer } from '../support/server.ts';

const risksOf = (env: Record<string, string>, overrides: Record<string, unknown> = {}) =>
  riskyConfiguration(loadConfig(env, overrides)).map((risk) => risk.setting);

describe('risky configuration', () => {
  test('loopback hosts', () => {
    expect(['localhost', 'LOCALHOST', 'app.localhost', '127.0.0.1', '127.8.9.10', '[::1]', '::1'].every(isLoopbackHost)).toBe(true);
    expect(['id.example.com', '10.0.0.1', '128.0.0.1', '[::2]', 'localhost.example.com', '0.0.0.0'].some(isLoopbackHost)).toBe(false);
  });

  test('an http issuer is risky unless it is loopback', () => {
    expect(risksOf({ ISSUER: 'http://localhost:3000' })).toEqual([]);
    expect(risksOf({ ISSUER: 'http://127.0.0.1:3000' })).toEqual([]);
    expect(risksOf({ ISSUER: 'http://[::1]:3000' })).toEqual([]);
    expect(risksOf({ ISSUER: 'http://id.example.com' })).toEqual(['issuer']);
    expect(risksOf({ ISSUER: 'http://192.168.1.20:3000' })).toEqual(['issuer']);
    expect(risksOf({ ISSUER: 'https://id.example.com', TRUST_PROXY: '10.0.0.0/8' })).toEqual([]);
  });

  test('proxy trust with no address (true, or a hop count alone) is risky; listed addresses are not', () => {
    expect(risksOf({ TRUST_PROXY: 'true' })).toEqual(['proxy']);
    expect(risksOf({ TRUST_PROXY: '2' })).toEqual(['proxy']);
    expect(risksOf({ TRUST_PROXY: '10.0.0.0/8,fd00::/8' })).toEqual([]);
    expect(risksOf({}, { proxy: { hops: 2, addresses: ['10.0.0.0/8'] } })).toEqual([]);
  });

  test('an https issuer with no proxy trusted is risky (its X-Forwarded-Proto would be ignored)', () => {
    expect(risksOf({ ISSUER: 'https://id.example.com' })).toEqual(['proxy']);
  });

  test('TLS served directly: an https issuer needs no proxy; an http issuer with TLS is risky', () => {
    const tls = { TLS_CERT_FILE: '/etc/tessera/cert.pem', TLS_KEY_FILE: '/etc/tessera/key.pem' };
    expect(risksOf({ ISSUER: 'https://id.example.com', ...tls })).toEqual([]);
    expect(risksOf({ ISSUER: 'http://localhost:3000', ...tls })).toEqual(['issuer']);
  });

  test('a client certificate header is inert without a trusted proxy, and risky from a proxy at any address', () => {
    const header = { ISSUER: 'https://id.example.com', TLS_CLIENT_CERT_HEADER: 'X-Client-Cert' };
    expect(risksOf({ ...header, TRUST_PROXY: '10.0.0.0/8' })).toEqual([]);
    expect(risksOf(header)).toEqual(['proxy', 'tls']);
    expect(risksOf({ ...header, TRUST_PROXY: '1' })).toEqual(['proxy', 'tls']);
  });

  test('the webhook loopback development setting is risky on a server that is not itself on loopback', () => {
    expect(risksOf({ WEBHOOKS_ALLOW_HTTP_LOOPBACK: 'true' })).toEqual([]);
    expect(risksOf({ WEBHOOKS_ALLOW_HTTP_LOOPBACK: 'true', ISSUER: 'https://id.example.com', TRUST_PROXY: '10.0.0.0/8' })).toEqual(['webhooks']);
    expect(risksOf({ ISSUER: 'https://id.example.com', TRUST_PROXY: '10.0.0.0/8' })).toEqual([]);
  });

  test('CLIENT_METADATA_ALLOW_LOOPBACK is risky off loopback; CLIENT_ID_METADATA_DOCUMENTS is off when absent; values that are not true or false are refused', () => {
    expect(risksOf({ ISSUER: 'http://127.0.0.1:3000', CLIENT_ID_METADATA_DOCUMENTS: 'true', CLIENT_METADATA_ALLOW_LOOPBACK: 'true' })).toEqual([]);
    expect(risksOf({ ISSUER: 'https://id.example.com', TRUST_PROXY: '10.0.0.0/8', CLIENT_ID_METADATA_DOCUMENTS: 'true', CLIENT_METADATA_ALLOW_LOOPBACK: 'true' })).toEqual(['clientMetadataDocuments']);
    expect(risksOf({ ISSUER: 'https://id.example.com', TRUST_PROXY: '10.0.0.0/8', CLIENT_ID_METADATA_DOCUMENTS: 'true' })).toEqual([]);
    expect(() => loadConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'on' })).toThrow(/clientMetadataDocuments\.enabled must be boolean/);
    expect(() => loadConfig({ CLIENT_METADATA_ALLOW_LOOPBACK: 'yes' })).toThrow(/clientMetadataDocuments\.allowLoopback must be boolean/);
    expect(loadConfig({}).clientMetadataDocuments).toBeUndefined();
    expect(loadConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'true' }).clientMetadataDocuments).toEqual({ enabled: true });
  });

  test('BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK is risky off loopback; a value that is not true or false is refused', () => {
    expect(risksOf({ ISSUER: 'http://127.0.0.1:3000', BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK: 'true' })).toEqual([]);
    expect(risksOf({ ISSUER: 'https://id.example.com', TRUST_PROXY: '10.0.0.0/8', BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK: 'true' })).toEqual(['backchannelLogout']);
    expect(risksOf({ ISSUER: 'https://id.example.com', TRUST_PROXY: '10.0.0.0/8', BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK: 'false' })).toEqual([]);
    expect(() => loadConfig({ BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK: 'yes' })).toThrow(/backchannelLogout\.allowLoopback must be boolean/);
    expect(loadConfig({}).backchannelLogout).toBeUndefined();
  });

  test('JWKS_URI_ALLOW_LOOPBACK is risky off loopback; a value that is not true or false is refused; absent is off', () => {
    expect(risksOf({ ISSUER: 'http://127.0.0.1:3000', JWKS_URI_ALLOW_LOOPBACK: 'true' })).toEqual([]);
    expect(risksOf({ ISSUER: 'https://id.example.com', TRUST_PROXY: '10.0.0.0/8', JWKS_URI_ALLOW_LOOPBACK: 'true' })).toEqual(['jwksUri']);
    expect(risksOf({ ISSUER: 'https://id.example.com', TRUST_PROXY: '10.0.0.0/8', JWKS_URI_ALLOW_LOOPBACK: 'false' })).toEqual([]);
    expect(() => loadConfig({ JWKS_URI_ALLOW_LOOPBACK: 'yes' })).toThrow(/jwksUri\.allowLoopback must be boolean/);
    expect(loadConfig({}).jwksUri).toBeUndefined();
  });

  test('open dynamic registration without its per-address limit is risky; with it, or with tokens, it is not', () => {
    expect(risksOf({ DYNAMIC_REGISTRATION: 'open' })).toEqual([]);
    expect(risksOf({ DYNAMIC_REGISTRATION: 'open' }, { rateLimits: { registrationPerIp: false } })).toEqual(['dynamicRegistration']);
    expect(risksOf({ DYNAMIC_REGISTRATION: 'token' }, { rateLimits: { registrationPerIp: false } })).toEqual([]);
    expect(loadConfig({}).dynamicRegistration).toEqual({ mode: 'off', grantTypes: ['authorization_code', 'refresh_token'], maxClients: 1000 });
    expect(() => loadConfig({ DYNAMIC_REGISTRATION: 'on' })).toThrow(/dynamicRegistration\.mode must be one of \(off, token, open\)/);
    expect(() => loadConfig({}, { dynamicRegistration: { grantTypes: ['password'] } })).toThrow(/dynamicRegistration\.grantTypes/);
  });

  test('a proxy range covering every address, or a TRUST_PROXY that means nothing, is refused with a message naming it', () => {
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/8,0.0.0.0/0' })).toThrow(ConfigError);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/8,0.0.0.0/0' })).toThrow(/proxy\.addresses: 0\.0\.0\.0\/0 makes every address a trusted proxy/);
    expect(() => loadConfig({}, { proxy: { addresses: ['::/0'] } })).toThrow(/::\/0 makes every address a trusted proxy/);
    expect(() => loadConfig({ TRUST_PROXY: 'yes' })).toThrow(/TRUST_PROXY must be true \(one proxy\), false, a number of proxy hops, or a comma-separated list/);
    expect(() => loadConfig({}, { proxy: { addresses: ['10.0.0.0/33'] } })).toThrow(/proxy\.addresses\.0 must be an IP address or a CIDR range/);
    expect(() => loadConfig({}, { proxy: { hops: 0 } })).toThrow(/proxy\.hops must be >= 1/);
    expect(() => loadConfig({}, { proxy: { hosp: 1 } })).toThrow(/proxy\.hosp: unknown field/);
    expect(() => loadConfig({}, { proxy: 'yes' })).toThrow(/proxy must be boolean/);
  });

  test('a server started with an http issuer on a public name says so in one warn line', async () => {
    const lines: string[] = [];
    const server = await startTestServer({ config: { issuer: 'http://id.example.test' }, logDestination: { write: (line: string) => { lines.push(line); } } });
    await server.stop();
    const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40);
    expect(warnings).toEqual([expect.objectContaining({ setting: 'issuer', msg: expect.stringMatching(/^risky configuration: the issuer http:\/\/id\.example\.test is plain http on a host that is not loopback/) })]);
  });

  test('a test server (http://127.0.0.1, no proxy) logs no warning', async () => {
    const lines: string[] = [];
    const server = await startTestServer({ logDestination: { write: (line: string) => { lines.push(line); } } });
    await server.stop();
    expect(lines.filter((line) => JSON.parse(line).level >= 40)).toEqual([]);
  });
});
