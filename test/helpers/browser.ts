// Pieces the browser tests share: Debian's Chromium launched as
// test/ui/console.test.ts does (scripts/ensure-chromium.ts installs it), and
// the page's console errors collected.
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/ensure-chromium.ts';

/** Chromium (installed first when missing), headless, reaching nothing by itself. */
export async function launchChromium(): Promise<Browser> {
  const found = await ensureChromium();
  if (!found.ok) throw new Error(found.message);
  return chromium.launch({ executablePath: found.path, args: CHROMIUM_ARGS });
}

/** Collects the page's console errors and warnings, and uncaught exceptions, into `into`; lines matching `expected` are left out. */
export function collectConsoleErrors(page: Page, into: string[], expected?: RegExp): void {
  page.on('console', (m) => {
    if ((m.type() === 'error' || m.type() === 'warning') && !(expected?.test(m.text()) ?? false)) into.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => into.push(`pageerror: ${e.message}`));
}
