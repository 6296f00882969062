import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, headless, through playwright-core (no downloaded browser). The flags keep
 * it from reaching out to Google's services, which this machine's closed network refuses.
 * jest's global setup installs it when missing and root (scripts/services.sh chromium).
 */
export function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  try {
    accessSync(executablePath, constants.X_OK);
  } catch {
    return Promise.reject(
      new Error(
        `Chromium is missing at ${executablePath}: run 'bash scripts/services.sh chromium' as root (apt-get install chromium), or set CHROMIUM_PATH`,
      ),
    );
  }
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
