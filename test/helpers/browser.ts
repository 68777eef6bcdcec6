// Pieces the browser tests share: Debian's Chromium launched as
// test/ui/console.test.ts does (scripts/ensure-chromium.ts installs it), the
// page's console errors collected, and the check that a narrow screen has no
// sideways scrolling. The project's type check has no DOM library: the few
// browser globals used inside page functions are declared here.
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/ensure-chromium.ts';

export interface PageElement {
  tagName: string;
  id: string;
  className: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { right: number };
  closest(selector: string): PageElement | null;
}
declare const document: { activeElement: PageElement | null; documentElement: { scrollWidth: number }; querySelectorAll(selector: string): Iterable<PageElement> };
declare const window: { innerWidth: number };

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

/** Elements reaching past the right edge of the window (none: the page does not scroll sideways). */
export function stickingOut(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    document.documentElement.scrollWidth <= window.innerWidth
      ? []
      : [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`).slice(0, 10),
  );
}

/** The `data-span` of the table row holding the focused element, or null. */
export function focusedRow(page: Page): Promise<string | null> {
  return page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-span') ?? null);
}
