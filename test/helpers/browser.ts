// A page in Debian's Chromium through playwright-core for the browser tests
// (installed by scripts/ensure-chromium.ts when missing, never downloaded by
// playwright): 1280x900, en-GB, UTC, with the page's console errors and
// warnings and its uncaught exceptions collected.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/ensure-chromium.ts';

export interface BrowserPage {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Console errors and warnings, and uncaught exceptions, of the page so far. */
  errors: string[];
}

/** Opens the browser and a page; `clipboardOrigin`: an origin allowed to read and write the clipboard. */
export async function openBrowserPage(opts: { clipboardOrigin?: string } = {}): Promise<BrowserPage> {
  const chromiumPath = await ensureChromium();
  if (!chromiumPath.ok) throw new Error(chromiumPath.message);
  const browser = await chromium.launch({ executablePath: chromiumPath.path, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
  if (opts.clipboardOrigin !== undefined) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: opts.clipboardOrigin });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return { browser, context, page, errors };
}
