/**
 * Headless Chromium for the observer's browser tests: Debian's `chromium`
 * (/usr/bin/chromium, or FIFE_TEST_CHROMIUM) driven by playwright-core, with a fresh
 * profile folder per launch and no network traffic of its own (no sync, no component
 * updates, no QUIC).
 *
 * - `chromiumGate()`: a service gate (support/services.ts) that launches it once: under
 *   FIFE_REQUIRE_SERVICES=1 a missing or broken Chromium fails the suite, otherwise one
 *   loud SKIPPING line.
 * - `launchChromium()`: a browser context; close it when done.
 */
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';
import { serviceGate, type ServiceGate } from '../../support/services.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';

export const CHROMIUM = process.env.FIFE_TEST_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(): Promise<BrowserContext> {
  // launchPersistentContext passes the fresh folder as --user-data-dir.
  return chromium.launchPersistentContext(tmpDir('fife-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: 30_000,
  });
}

export function chromiumGate(): Promise<ServiceGate> {
  return serviceGate('Chromium', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install chromium)`);
    const ctx = await launchChromium();
    await ctx.close();
  });
}
