// Roles in a real browser (Debian's Chromium through playwright-core, as
// test/ui/console.test.ts), against a real in-process Consentry: each role
// signs in with its own token, sees who is signed in and only the actions it
// may take (the others are not offered, and the page says why); an operator's
// tier switch is audited under its name; an admin creates an operator on the
// Operators page (token shown once) and revokes it, after which that
// operator's open page is sent back to sign-in.
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { collectConsoleErrors, launchChromium } from '../helpers/browser.ts';

declare const sessionStorage: { getItem(key: string): string | null };

let c: TestConsentry;
let browser: Browser;
const contexts: BrowserContext[] = [];
const consoleErrors: string[] = [];
const tokens: Record<string, string> = {};

beforeAll(async () => {
  browser = await launchChromium();
  c = await startTestConsentry();
  await c.createTenant('acme', 'full');
  for (const [name, role] of [['vera', 'viewer'], ['otto', 'operator'], ['pia', 'privacy'], ['ada', 'admin']] as const) {
    const r = await c.api('POST', '/api/operators', { name, role });
    tokens[name] = r.body.token as string;
  }
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await c?.close();
});

/** A fresh tab (its own session storage) signed in with `token`. */
async function signIn(token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
  contexts.push(context);
  const page = await context.newPage();
  // A refused token is answered 401, which Chromium logs itself; expected where a test revokes or mistypes one.
  collectConsoleErrors(page, consoleErrors, /status of 401/);
  await page.goto(`${c.apiUrl}/ui/`);
  await page.getByLabel('Operator or admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return page;
}

/** What each role is offered on the tenants page and in the navigation. */
const OFFERS = [
  ['vera', 'viewer', { create: false, switch: false, erase: false, del: false, operators: false }, ['creating and deleting tenants needs the role admin or operator', 'switching tiers needs the role admin or operator', 'erasing end users needs the role admin or privacy']],
  ['otto', 'operator', { create: true, switch: true, erase: false, del: true, operators: false }, ['erasing end users needs the role admin or privacy']],
  ['pia', 'privacy', { create: false, switch: false, erase: true, del: false, operators: false }, ['creating and deleting tenants needs the role admin or operator', 'switching tiers needs the role admin or operator']],
  ['ada', 'admin', { create: true, switch: true, erase: true, del: true, operators: true }, []],
] as const;

describe('roles in the page', () => {
  it.each(OFFERS)('%s (%s) sees who is signed in and only what the role allows', async (name, role, offers, notes) => {
    const page = await signIn(tokens[name]!);
    await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    expect(await page.locator('#signed-in-as').textContent()).toBe(`Signed in as ${name} ${role}`);
    const row = page.locator('tr[data-tenant="acme"]');
    await row.waitFor();
    const has = async (l: Locator) => (await l.count()) > 0;
    expect(await has(page.getByRole('button', { name: 'Create tenant' })), 'create').toBe(offers.create);
    expect(await has(row.getByRole('button', { name: 'Switch tier of acme' })), 'switch').toBe(offers.switch);
    expect(await has(row.getByRole('button', { name: 'Erase end user of acme' })), 'erase').toBe(offers.erase);
    expect(await has(row.getByRole('button', { name: 'Delete tenant of acme' })), 'delete').toBe(offers.del);
    expect(await has(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Operators' })), 'operators').toBe(offers.operators);
    // Every role reads: the dashboard, requests and audit links are there.
    for (const link of ['Dashboard of acme', 'Requests of acme', 'Audit of acme']) expect(await has(row.getByRole('link', { name: link })), link).toBe(true);
    const note = page.locator('#tenants-role-note');
    if (notes.length === 0) expect(await note.count()).toBe(0);
    else {
      const text = ((await note.textContent()) ?? '').replace(/\s+/g, ' ');
      expect(text).toContain(`Signed in as ${name} (role ${role})`);
      for (const n of notes) expect(text).toContain(n);
    }
    await page.screenshot({ path: `test/screenshots/tenants-${role}.png`, fullPage: true });
    // A page the role may not use, reached by its address: said so, nothing loaded.
    if (!offers.operators) {
      await page.goto(`${c.apiUrl}/ui/#/operators`);
      await page.locator('#page-not-offered').waitFor();
      expect(await page.locator('#page-not-offered').textContent()).toContain('the Operators page needs the role admin');
      expect(await page.locator('#operators-table').count()).toBe(0);
    }
  });

  it('a viewer opens requests and the dashboard', async () => {
    const page = await signIn(tokens['vera']!);
    await page.goto(`${c.apiUrl}/ui/#/requests/acme`);
    await page.locator('#requests-status').waitFor();
    await page.goto(`${c.apiUrl}/ui/#/dashboard/acme`);
    await page.locator('#dash-meta').waitFor();
  });

  it("an operator's tier switch is audited under its name", async () => {
    const page = await signIn(tokens['otto']!);
    await page.locator('tr[data-tenant="acme"]').getByRole('button', { name: 'Switch tier of acme' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('New tier').selectOption('lunos');
    await dialog.getByLabel(/^Reason/).fill('contract v2');
    await dialog.getByRole('button', { name: 'Review the change' }).click();
    await dialog.getByRole('button', { name: 'Switch to lunos' }).click();
    await page.getByRole('status').filter({ hasText: 'acme is now on tier lunos' }).waitFor();
    await page.locator('tr[data-tenant="acme"]').getByRole('link', { name: 'Audit of acme' }).click();
    const first = page.locator('#tier-audit tbody tr').first();
    await first.waitFor();
    expect((await first.locator('td').allTextContents()).slice(1, 5)).toEqual(['otto', 'switch', 'full', 'lunos']);
  });

  it('an admin creates an operator (token shown once) and revokes it; the revoked page goes back to sign-in', async () => {
    const admin = await signIn(tokens['ada']!);
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Operators' }).click();
    await admin.locator('#operators-table').waitFor();
    await admin.getByLabel('Name').fill('newbie');
    await admin.getByLabel('Role').selectOption('viewer');
    await admin.getByRole('button', { name: 'Create operator' }).click();
    const panel = admin.locator('#new-token');
    await panel.waitFor();
    expect(await panel.getByRole('alert').textContent()).toContain('it is shown this once');
    const token = await admin.locator('#operator-token').inputValue();
    expect(token).toMatch(/^csk_op_/);
    await admin.screenshot({ path: 'test/screenshots/operators.png', fullPage: true });
    await panel.getByRole('button', { name: 'I have handed over the token' }).click();
    expect(await admin.locator('#new-token').count()).toBe(0);

    // The new operator signs in with it, in a tab of its own.
    const newbie = await signIn(token);
    await newbie.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    expect(await newbie.locator('#signed-in-as').textContent()).toBe('Signed in as newbie viewer');

    await admin.locator('tr[data-operator="newbie"]').getByRole('button', { name: 'Revoke newbie' }).click();
    const dialog = admin.getByRole('dialog', { name: 'Revoke newbie?' });
    await dialog.getByRole('button', { name: 'Revoke newbie' }).click();
    await admin.getByRole('status').filter({ hasText: 'newbie is revoked' }).waitFor();
    await admin.locator('tr[data-operator="newbie"]').waitFor({ state: 'detached' });
    // The audit reloads after the list that lost the row: poll rather than read the table once.
    await expect
      .poll(async () => (await admin.locator('#operator-audit tbody tr').first().locator('td').allTextContents()).slice(1))
      .toEqual(['ada', 'revoke', 'newbie', 'viewer']);

    // The revoked operator's next call is refused: back to sign-in, with the reason, and the token forgotten.
    await newbie.getByRole('link', { name: 'Audit of acme' }).click();
    await newbie.getByText('Your token was refused: it is wrong or was revoked. Sign in again.').waitFor();
    expect(await newbie.evaluate(() => sessionStorage.getItem('consentry.token'))).toBeNull();
    await newbie.getByLabel('Operator or admin token').fill(token);
    await newbie.getByRole('button', { name: 'Sign in' }).click();
    await newbie.getByRole('alert').filter({ hasText: 'This token was refused' }).waitFor();
  });

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });
});
