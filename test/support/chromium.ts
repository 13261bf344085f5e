// Headless Chromium for the browser tests: playwright-core drives the
// machine's own Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A headless Chromium without sandbox (containers), GPU or background traffic: it talks to the loopback server only. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
