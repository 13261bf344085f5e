/*
 * What the session list shows of a User-Agent: the header itself, shortened,
 * and a few words a person recognises ("Chrome on Linux"). A handful of
 * regular expressions, in the order that matters (Edge and Opera also say
 * "Chrome", Chrome also says "Safari"); anything else is "Unknown browser".
 * The header is the client's to choose: it is shown, never trusted.
 */

/** Longest User-Agent kept; real ones are rarely longer. */
export const USER_AGENT_MAX_LENGTH = 256;

const BROWSERS: Array<[RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\bOPR\/|\bOpera\b/, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bHeadlessChrome\//, 'Headless Chrome'],
  [/\bChrome\/|\bCriOS\/|\bChromium\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/^curl\//, 'curl'],
  [/^node\b|\bundici\b/i, 'Node.js'],
];

const SYSTEMS: Array<[RegExp, string]> = [
  [/\bWindows (?:NT|Phone)\b/, 'Windows'],
  [/\biPhone\b|\biPad\b|\biPod\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bMacintosh\b|\bMac OS X\b/, 'macOS'],
  [/\bLinux\b|\bX11\b/, 'Linux'],
];

const firstMatch = (table: Array<[RegExp, string]>, value: string) => table.find(([pattern]) => pattern.test(value))?.[1];

/** The header without control characters, at most USER_AGENT_MAX_LENGTH long; null when there is none. */
export function shortenUserAgent(header: string | undefined | null): string | null {
  if (!header) return null;
  // eslint-disable-next-line no-control-regex
  const printable = header.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (!printable) return null;
  return printable.length > USER_AGENT_MAX_LENGTH ? `${printable.slice(0, USER_AGENT_MAX_LENGTH - 1)}…` : printable;
}

/** "Chrome on Linux", "Safari on iOS", "Firefox", "Unknown browser on Windows"; null without a User-Agent. */
export function describeDevice(userAgent: string | null): string | null {
  if (!userAgent) return null;
  const browser = firstMatch(BROWSERS, userAgent);
  const system = firstMatch(SYSTEMS, userAgent);
  if (!browser && !system) return 'Unknown device';
  return system ? `${browser ?? 'Unknown browser'} on ${system}` : browser!;
}
