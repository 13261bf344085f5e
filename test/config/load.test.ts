import { describe, test, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/index.ts';

const nodeBinary = process.execPath;

describe('configuration', () => {
  test('defaults: port 3000, issuer from the port, embedded stores', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.issuer).toBe('http://localhost:3000');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.redis).toEqual({});
    expect(Object.isFrozen(config.ttl)).toBe(true);
  });

  test('environment overrides the defaults', () => {
    const config = loadConfig({ PORT: '4100', ISSUER: 'https://id.example.com/', DATABASE_URL: 'postgres://x@db/y', REDIS_URL: 'redis://cache:6379', LOG_LEVEL: 'warn' });
    expect(config).toMatchObject({ port: 4100, issuer: 'https://id.example.com', databaseUrl: 'postgres://x@db/y', logLevel: 'warn', redis: { url: 'redis://cache:6379' } });
  });

  test('CONFIG_FILE is merged under the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ port: 5000, ttl: { accessToken: 120 } }));
    const config = loadConfig({ CONFIG_FILE: file, PORT: '5001' });
    expect(config.port).toBe(5001);
    expect(config.ttl.accessToken).toBe(120);
    expect(config.ttl.refreshToken).toBe(1209600);
  });

  test.each([
    [{ PORT: 'eighty' }, /port must be integer/],
    [{ PORT: '70000' }, /port must be <= 65535/],
    [{ ISSUER: 'not a url' }, /issuer/],
    [{ LOG_LEVEL: 'loud' }, /logLevel must be one of \(fatal, error, warn, info, debug, trace, silent\)/],
    [{ DATABASE_URL: 'mysql://x' }, /databaseUrl/],
    [{ REDIS_URL: 'http://x' }, /redis\.url/],
  ])('invalid %p names the field', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test('unknown fields in CONFIG_FILE are refused by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ ttl: { acessToken: 5 } }));
    expect(() => loadConfig({ CONFIG_FILE: file })).toThrow(/ttl.acessToken: unknown field/);
  });

  test('webhooks: absent means nothing; only "true" widens, anything else is refused naming the field', () => {
    expect(loadConfig({}).webhooks).toMatchObject({ allowHttpLoopback: false, allowPrivateNetworks: false });
    expect(loadConfig({}).webhooks.caFile).toBeUndefined();
    expect(loadConfig({ WEBHOOKS_ALLOW_HTTP_LOOPBACK: 'true', WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'false', WEBHOOKS_CA_FILE: '/etc/ca.pem' }).webhooks)
      .toMatchObject({ allowHttpLoopback: true, allowPrivateNetworks: false, caFile: '/etc/ca.pem' });
    expect(() => loadConfig({ WEBHOOKS_ALLOW_HTTP_LOOPBACK: 'yes' })).toThrow(/webhooks\.allowHttpLoopback must be boolean/);
    expect(() => loadConfig({ WEBHOOKS_ALLOW_PRIVATE_NETWORKS: '1' })).toThrow(/webhooks\.allowPrivateNetworks must be boolean/);
  });

  test('the process exits 1 with a message naming the field', () => {
    const result = spawnSync(nodeBinary, ['src/main.ts', 'serve'], { env: { ...process.env, PORT: 'eighty', NODE_OPTIONS: '' }, encoding: 'utf8', timeout: 30000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/port must be integer/);
  });
});
