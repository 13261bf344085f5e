import { describe, expect, test } from '@jest/globals';
import { describeDevice, shortenUserAgent, USER_AGENT_MAX_LENGTH } from '../../src/tokens/user-agent.ts';

describe('what the session list shows of a User-Agent', () => {
  test.each([
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Chrome on Linux'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox on Windows'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', 'Edge on Windows'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', 'Safari on iOS'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15', 'Safari on macOS'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36', 'Chrome on Android'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36', 'Headless Chrome on Linux'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0', 'Opera on Linux'],
    ['curl/8.5.0', 'curl'],
    ['something nobody knows', 'Unknown device'],
  ])('%s → %s', (userAgent, device) => {
    expect(describeDevice(userAgent)).toBe(device);
  });

  test('no User-Agent: nothing to describe', () => {
    expect(describeDevice(null)).toBeNull();
    expect(shortenUserAgent(undefined)).toBeNull();
    expect(shortenUserAgent('  \u0000\t ')).toBeNull();
  });

  test('a hostile header is kept short and printable', () => {
    const shortened = shortenUserAgent(`Chrome/1.0 ${'A'.repeat(10_000)}\u0000\u001b[31m`)!;
    expect(shortened.length).toBeLessThanOrEqual(USER_AGENT_MAX_LENGTH);
    expect(shortened).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(describeDevice(shortened)).toBe('Chrome');
  });
});
