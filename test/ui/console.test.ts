// The control-plane page in a real browser (Debian's Chromium through
// playwright-core; installed by scripts/ensure-chromium.ts when missing, never
// downloaded by playwright) against a real in-process Consentry: sign in,
// create a tenant, send traffic with the OTel SDK and see the dashboard figures
// match it, a minimal tenant's "no request data by consent", a tier switch with
// a reason and its audit row, an erasure in the audit, the query console and a
// refused cross-tenant query; erasing an end user and deleting a tenant from
// the tenants page (rows checked in ClickHouse, keys refused); a narrow screen
// and the keyboard; no console errors. Screenshots of each page go to test/screenshots/ (ignored by git),
// and the dashboard also to docs/dashboard.png for the README (when missing,
// or again with UPDATE_DOCS_SCREENSHOT=1).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode, context as otelContext, trace } from '@opentelemetry/api';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { sdkClient } from '../helpers/otel.ts';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/ensure-chromium.ts';

// The few browser globals the page functions below use: the project's type
// check has no DOM library, and these declarations stay in this module.
interface PageElement {
  tagName: string;
  id: string;
  className: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { right: number };
}
declare const document: { activeElement: PageElement | null; documentElement: { scrollWidth: number }; querySelectorAll(selector: string): Iterable<PageElement> };
declare const requestAnimationFrame: (callback: () => void) => number;
declare const window: { innerWidth: number };
declare const sessionStorage: { getItem(key: string): string | null };
declare const localStorage: { length: number };
declare const navigator: { clipboard: { readText(): Promise<string> } };
declare function getComputedStyle(el: PageElement): { outlineStyle: string };

const ROOT = join(import.meta.dirname, '..', '..');
const SHOTS = join(ROOT, 'test', 'screenshots');

let c: TestConsentry;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Console errors and uncaught exceptions of the page; expected ones are taken out where they happen. */
const consoleErrors: string[] = [];
let keys: { ingestKey: string; queryKey: string };

/** The traffic sent for tenant acme: one SERVER span per request. */
const PLAN = [
  { provider: 'openai', route: '/v1/chat/completions', model: 'gpt-4o', n: 18, errors: 2, inTok: 120, outTok: 40, ms: 180 },
  { provider: 'openai', route: '/v1/embeddings', model: 'text-embedding-3-small', n: 10, errors: 0, inTok: 50, outTok: 0, ms: 60 },
  { provider: 'anthropic', route: '/v1/messages', model: 'claude-3-5-sonnet', n: 12, errors: 3, inTok: 200, outTok: 90, ms: 900 },
];
const fmt = (n: number) => new Intl.NumberFormat('en-US').format(n);

beforeAll(async () => {
  const chromiumPath = await ensureChromium();
  if (!chromiumPath.ok) throw new Error(chromiumPath.message);
  mkdirSync(SHOTS, { recursive: true });
  c = await startTestConsentry();
  browser = await chromium.launch({ executablePath: chromiumPath.path, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: c.apiUrl });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
}, 600_000); // a first Chromium install (apt-get) can take minutes

afterAll(async () => {
  await browser?.close();
  await c?.close();
});

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const stat = (id: string) => page.locator(`[data-stat="${id}"] dd`);
/** The text of a cell, without the spaces around a bar. */
const text = async (l: import('playwright-core').Locator) => ((await l.textContent()) ?? '').trim();

/** Sends the PLAN through the OTel SDK, spread over 45 to 20 minutes ago. */
async function sendPlan(ingestKey: string): Promise<number[]> {
  const client = sdkClient({ otlpUrl: c.otlpUrl, ingestKey, encoding: 'proto', resource: { 'service.name': 'ui-test-gateway' } });
  const tracer = client.tracerProvider.getTracer('gateway');
  const durations: number[] = [];
  const start = Date.now() - 45 * 60_000;
  let k = 0;
  for (const p of PLAN) {
    for (let i = 0; i < p.n; i++) {
      const t = start + (k++ % 25) * 60_000 + i * 1000;
      const ms = p.ms * (1 + (i % 5) / 10);
      durations.push(ms);
      const failed = i < p.errors;
      const span = tracer.startSpan(`POST ${p.route}`, {
        kind: SpanKind.SERVER,
        startTime: t,
        attributes: {
          'http.request.method': 'POST',
          'http.route': p.route,
          'http.response.status_code': failed ? 500 : 200,
          'gen_ai.provider.name': p.provider,
          'gen_ai.request.model': p.model,
          'gen_ai.usage.input_tokens': p.inTok,
          'gen_ai.usage.output_tokens': p.outTok,
          'user.id': `user-${i % 3}`,
        },
      });
      if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream 500' });
      span.end(t + ms);
    }
  }
  await client.flush();
  await client.shutdown();
  return durations.sort((a, b) => a - b);
}

/**
 * Sends `n` requests per user: a SERVER span with the user's `user.id`, a
 * CLIENT span of the same trace without it (the upstream call), and two logs
 * of the trace, one with the `user.id` and one without.
 */
async function sendUsers(ingestKey: string, users: string[], n: number): Promise<void> {
  const client = sdkClient({ otlpUrl: c.otlpUrl, ingestKey, encoding: 'proto', resource: { 'service.name': 'ui-test-gateway' } });
  const tracer = client.tracerProvider.getTracer('gateway');
  const logger = client.loggerProvider.getLogger('gateway');
  const start = Date.now() - 30 * 60_000;
  for (const [u, user] of users.entries()) {
    for (let i = 0; i < n; i++) {
      const t = start + (u * n + i) * 1000;
      const server = tracer.startSpan('POST /v1/chat/completions', {
        kind: SpanKind.SERVER,
        startTime: t,
        attributes: { 'http.request.method': 'POST', 'http.route': '/v1/chat/completions', 'http.response.status_code': 200, 'user.id': user },
      });
      const ctx = trace.setSpan(otelContext.active(), server);
      tracer.startSpan('POST api.openai.com', { kind: SpanKind.CLIENT, startTime: t + 5, attributes: { 'gen_ai.provider.name': 'openai' } }, ctx).end(t + 90);
      logger.emit({ timestamp: t + 10, body: `request of ${user}`, attributes: { 'user.id': user }, context: ctx });
      logger.emit({ timestamp: t + 95, body: 'upstream answered', context: ctx });
      server.end(t + 100);
    }
  }
  await client.flush();
  await client.shutdown();
}

/** Rows of `tenant` in `table` ("Where" adds a condition). */
const countRows = async (table: string, tenant: string, where = '1') =>
  Number((await c.rows<{ n: number | string }>(`SELECT count() AS n FROM consentry.${table} WHERE TenantId = '${tenant}' AND (${where})`))[0]?.n ?? 0);

/** Nearest-rank quantile of sorted values. */
const quantile = (sorted: number[], q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
/** "216 ms" / "1.2 s" -> milliseconds. */
const parseMs = (s: string) => (s.endsWith(' s') ? Number.parseFloat(s) * 1000 : Number.parseFloat(s));

describe('control plane page', () => {
  it('serves the page without a token, with a strict CSP; the API still needs the admin token', async () => {
    const res = await fetch(`${c.apiUrl}/ui/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    for (const path of ['/ui/app.js', '/ui/style.css', '/ui/vendor/preact.mjs', '/ui/vendor/preact-hooks.mjs', '/ui/vendor/htm-preact.mjs', '/ui/vendor/uplot.mjs', '/ui/vendor/uplot.css']) {
      expect((await fetch(`${c.apiUrl}${path}`)).status, path).toBe(200);
    }
    expect((await fetch(`${c.apiUrl}/ui/../package.json`)).status).toBe(404);
    expect((await fetch(`${c.apiUrl}/ui/vendor/../../package.json`)).status).toBe(404);
    expect((await fetch(`${c.apiUrl}/api/tenants`)).status).toBe(401);
  });

  it('signs in with the admin token, kept in sessionStorage only', async () => {
    await page.goto(`${c.apiUrl}/ui/`);
    await expect(page.getByRole('heading', { name: 'Consentry control plane' }).isVisible()).resolves.toBe(true);
    await shot('sign-in');
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    const storage = await page.evaluate(() => ({ session: sessionStorage.getItem('consentry.adminToken'), local: localStorage.length }));
    expect(storage).toEqual({ session: ADMIN_TOKEN, local: 0 });
    expect(page.url()).not.toContain(ADMIN_TOKEN);
  });

  it('creates a tenant and shows its keys once, with copy buttons and a warning', async () => {
    await page.getByLabel('Tenant id').fill('acme');
    await page.getByLabel('Tier', { exact: true }).selectOption('full');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    const panel = page.locator('#new-keys');
    await panel.waitFor();
    await expect(panel.getByRole('alert').textContent()).resolves.toContain('shown this once');
    keys = { ingestKey: await page.locator('#ingest-key').inputValue(), queryKey: await page.locator('#query-key').inputValue() };
    expect(keys.ingestKey).toMatch(/^csk_ingest_/);
    expect(keys.queryKey).toMatch(/^csk_query_/);
    await panel.getByRole('button', { name: /^Copy Query key/ }).click();
    await page.locator('#query-key-status', { hasText: 'Copied.' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(keys.queryKey);
    await shot('tenant-keys');
    await panel.getByRole('button', { name: 'I have stored both keys' }).click();
    await expect(page.locator('#new-keys').count()).resolves.toBe(0);
    const row = page.locator('tr[data-tenant="acme"]');
    await expect(row.locator('td').nth(0).textContent()).resolves.toBe('full');
    await expect(row.locator('td').nth(1).textContent()).resolves.toBe('permanent');
    await shot('tenants');
  });

  it('shows dashboard figures that match the traffic sent with the OTel SDK', async () => {
    const durations = await sendPlan(keys.ingestKey);
    const total = PLAN.reduce((s, p) => s + p.n, 0);
    const landed = await eventually(async () => (await c.api('GET', '/api/tenants/acme/dashboard')).body?.totals?.requests === total, 10_000);
    expect(landed).toBe(true);

    await page.locator('tr[data-tenant="acme"]').getByRole('link', { name: /^Dashboard/ }).click();
    await page.locator('#totals').waitFor();
    await page.locator('#chart-requests .uplot').waitFor();
    const errors = PLAN.reduce((s, p) => s + p.errors, 0);
    await expect(stat('requests').textContent()).resolves.toBe(fmt(total));
    await expect(stat('errors').textContent()).resolves.toBe(fmt(errors));
    await expect(stat('error-rate').textContent()).resolves.toBe(`${((errors / total) * 100).toFixed(1)} %`);
    await expect(stat('input-tokens').textContent()).resolves.toBe(fmt(PLAN.reduce((s, p) => s + p.n * p.inTok, 0)));
    await expect(stat('output-tokens').textContent()).resolves.toBe(fmt(PLAN.reduce((s, p) => s + p.n * p.outTok, 0)));
    for (const [id, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
      const shown = parseMs((await stat(id).textContent()) ?? '');
      expect(Math.abs(shown - quantile(durations, q)) / quantile(durations, q), `${id}: ${shown}`).toBeLessThan(0.025);
    }
    for (const provider of ['openai', 'anthropic']) {
      const plans = PLAN.filter((p) => p.provider === provider);
      const row = page.locator(`#by-provider tr[data-key="${provider}"]`);
      await expect(text(row.locator('[data-col="requests"]'))).resolves.toBe(fmt(plans.reduce((s, p) => s + p.n, 0)));
      await expect(row.locator('[data-col="errors"]').textContent()).resolves.toBe(fmt(plans.reduce((s, p) => s + p.errors, 0)));
    }
    for (const p of PLAN) {
      await expect(text(page.locator(`#by-endpoint tr[data-key="${p.route}"] [data-col="requests"]`))).resolves.toBe(fmt(p.n));
      const model = page.locator(`#by-model tr[data-key="${p.model}"]`);
      await expect(model.locator('[data-col="calls"]').textContent()).resolves.toBe(fmt(p.n)); // the gateway's SERVER span is the call
      await expect(model.locator('[data-col="input-tokens"]').textContent()).resolves.toBe(fmt(p.n * p.inTok));
      await expect(model.locator('[data-col="output-tokens"]').textContent()).resolves.toBe(fmt(p.n * p.outTok));
    }
    // The chart's table view holds the same requests, bucket by bucket.
    const perBucket = await page.locator('#chart-requests details table tbody tr td:first-of-type').allTextContents();
    expect(perBucket.reduce((s, v) => s + (v === '–' ? 0 : Number(v.replace(/,/g, ''))), 0)).toBe(total);
    await shot('dashboard');
    // The README's picture: written when missing or asked for, so a test run leaves the work tree clean.
    const docShot = join(ROOT, 'docs', 'dashboard.png');
    if (!existsSync(docShot) || process.env['UPDATE_DOCS_SCREENSHOT'] === '1') await page.screenshot({ path: docShot });

    // The time range picker: the last 15 minutes hold none of this traffic.
    await page.locator('#range-preset').selectOption('15m');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.waitForURL(/range=15m/);
    await page.locator('[data-stat="requests"] dd', { hasText: /^0$/ }).waitFor();
  });

  it('says "no request data by consent" for a minimal tenant', async () => {
    const globex = await c.createTenant('globex', 'minimal');
    await sendPlan(globex.ingestKey);
    await page.goto(`${c.apiUrl}/ui/#/dashboard/globex`);
    const none = page.locator('#no-request-data');
    await none.waitFor();
    await expect(none.getByRole('heading').textContent()).resolves.toBe('No request data by consent');
    await expect(none.textContent()).resolves.toContain('not the same as no traffic');
    await expect(page.locator('#totals').count()).resolves.toBe(0);
    await shot('dashboard-minimal');
  });

  it('switches the tier with a required reason after a confirmation of what changes, and shows the audit row', async () => {
    await page.goto(`${c.apiUrl}/ui/#/tenants`);
    await page.locator('tr[data-tenant="acme"]').getByRole('button', { name: /^Switch tier/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByLabel('New tier').selectOption('summary');
    await dialog.getByLabel('Until (optional)').fill('2030-01-01T12:00');
    await dialog.getByRole('button', { name: 'Review the change' }).click();
    // No reason: the form does not go on.
    expect(await dialog.getByLabel(/^Reason/).evaluate((el) => (el as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing)).toBe(true);
    await expect(dialog.locator('#confirm-stores').count()).resolves.toBe(0);
    await dialog.getByLabel(/^Reason/).fill('debug ticket 42 closed: back to aggregates');
    await dialog.getByRole('button', { name: 'Review the change' }).click();
    await dialog.locator('#confirm-stores').waitFor();
    const [full, summary] = [(await c.api('GET', '/api/tiers/full')).body, (await c.api('GET', '/api/tiers/summary')).body];
    expect(await dialog.locator('#confirm-stores li').allTextContents()).toEqual(summary.stores);
    expect(await dialog.locator('#confirm-stops li').allTextContents()).toEqual(full.stores.filter((s: string) => !summary.stores.includes(s)));
    await shot('tier-switch-confirm');
    await dialog.getByRole('button', { name: 'Switch to summary' }).click();
    await page.getByRole('status').filter({ hasText: 'acme is now on tier summary' }).waitFor();
    const row = page.locator('tr[data-tenant="acme"]');
    await row.locator('td .tier', { hasText: 'summary' }).waitFor();
    await expect(row.locator('td').nth(0).textContent()).resolves.toBe('summary');
    await expect(row.locator('td').nth(1).textContent()).resolves.toContain('01 Jan 2030, 12:00:00');
    expect((await c.api('GET', '/api/tenants/acme/tier')).body).toMatchObject({ tier: 'summary', until: '2030-01-01T12:00:00.000Z', reason: 'debug ticket 42 closed: back to aggregates' });

    // An erasure, made through the API, is in the audit too.
    expect((await c.api('DELETE', '/api/tenants/acme/subjects/user-1?reason=GDPR%20art.%2017%20request')).status).toBe(200);
    await row.getByRole('link', { name: /^Audit/ }).click();
    const first = page.locator('#tier-audit tbody tr').first();
    await first.waitFor();
    expect(await first.locator('td').allTextContents()).toEqual([expect.any(String), 'admin', 'switch', 'full', 'summary', '01 Jan 2030, 12:00:00', 'debug ticket 42 closed: back to aggregates']);
    const erasure = page.locator('#erasures tbody tr').first();
    await erasure.waitFor();
    const cells = await erasure.locator('td').allTextContents();
    expect(cells.slice(1, 5)).toEqual(['admin', 'subject', 'user-1', 'GDPR art. 17 request']);
    await shot('audit');
  });

  it('runs SQL with the tenant query key and refuses a cross-tenant query plainly', async () => {
    const other = await c.createTenant('initech', 'full');
    await sendPlan(other.ingestKey);
    await page.getByRole('link', { name: 'Query' }).click();
    await page.getByLabel('Tenant query key').fill(keys.queryKey);
    const runShown = async () => {
      await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/query')), page.getByRole('button', { name: 'Run query' }).click()]);
      await page.getByRole('button', { name: 'Run query' }).waitFor(); // drawn: no longer "Running…"
    };
    const run = async (sql: string) => {
      await page.getByLabel('SQL', { exact: true }).fill(sql);
      await runShown();
    };
    // user-1's spans were erased above: 40 - 14.
    const erased = PLAN.reduce((s, p) => s + Array.from({ length: p.n }, (_, i) => i % 3 === 1).filter(Boolean).length, 0);
    await run('SELECT count() AS spans, uniqExact(TenantId) AS tenants FROM otel_traces');
    await page.locator('#result-status').waitFor();
    expect(await page.locator('#result-table thead th').allTextContents()).toEqual(['spansUInt64', 'tenantsUInt64']);
    expect(await page.locator('#result-table tbody td').allTextContents()).toEqual([String(40 - erased), '1']);
    await shot('query');

    // Every example query runs.
    for (const name of ['Spans per service', 'Requests per minute', 'Latest logs', 'Tier changes']) {
      await page.getByRole('group', { name: 'Examples:' }).getByRole('button', { name }).click();
      await runShown();
      await page.locator('#result-table').waitFor({ timeout: 5000 });
      expect(await page.locator('#results [role="alert"]').count(), name).toBe(0);
    }

    // Another tenant's rows by WHERE: filtered to nothing.
    await run("SELECT count() FROM otel_traces WHERE TenantId = 'initech'");
    await page.locator('#result-table tbody td', { hasText: /^0$/ }).waitFor();
    // Another tenant's keys and rows through a private table: refused, with the reason.
    const before = consoleErrors.length;
    await run('SELECT Id, QueryKeyHash FROM consentry.tenants');
    const alert = page.locator('#results [role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/Refused: this query is not allowed\s*QUERY_REJECTED/);
    await expect(page.locator('#result-table').count()).resolves.toBe(0);
    await shot('query-refused');
    // Chromium logs the API's 400 answer itself; that one is expected.
    const logged = consoleErrors.splice(before);
    expect(logged.every((l) => /Failed to load resource: the server responded with a status of 400/.test(l)), logged.join('\n')).toBe(true);
  });

  it('erases an end user from the tenant row, with a required reason, after a confirmation of what is deleted', async () => {
    const umbrella = await c.createTenant('umbrella', 'full');
    const n = 4;
    await sendUsers(umbrella.ingestKey, ['alice@example.com', 'bob'], n);
    const alice = "SpanAttributes['user.id'] = 'alice@example.com'";
    // 2 spans and 2 logs per request, 2 users.
    expect(await eventually(async () => (await countRows('otel_traces', 'umbrella')) === 4 * n && (await countRows('otel_logs', 'umbrella')) === 4 * n, 10_000)).toBe(true);
    const aliceTraces = `TraceId IN (SELECT TraceId FROM consentry.otel_traces WHERE TenantId = 'umbrella' AND ${alice})`;
    expect(await countRows('otel_traces', 'umbrella', aliceTraces)).toBe(2 * n);

    await page.goto(`${c.apiUrl}/ui/#/tenants`);
    await page.locator('tr[data-tenant="umbrella"]').getByRole('button', { name: 'Erase end user of umbrella' }).click();
    const dialog = page.getByRole('dialog', { name: 'Erase an end user of umbrella' });
    await dialog.waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id), { timeout: 2000 }).toBe('erase-subject');
    const missing = (label: RegExp | string) => dialog.getByLabel(label).evaluate((el) => (el as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing);

    // No reason: the form does not go on.
    await dialog.getByLabel('End user id (user.id)').fill('alice@example.com');
    await dialog.getByRole('button', { name: 'Review the erasure' }).click();
    expect(await missing(/^Reason/)).toBe(true);
    await expect(dialog.locator('#erase-confirm').count()).resolves.toBe(0);
    await dialog.getByLabel(/^Reason/).fill('GDPR art. 17 request #88');

    // An id longer than a user.id can be (1024 characters): the form says so and stays open.
    await dialog.getByLabel('End user id (user.id)').fill('x'.repeat(1025));
    await dialog.getByRole('button', { name: 'Review the erasure' }).click();
    const alert = dialog.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/Cannot continue[\s\S]*1025 characters; a user\.id has at most 1024/);
    await expect(dialog.locator('#erase-confirm').count()).resolves.toBe(0);
    await dialog.getByLabel('End user id (user.id)').fill('alice@example.com');
    await dialog.getByRole('button', { name: 'Review the erasure' }).click();

    const confirm = dialog.locator('#erase-confirm');
    await confirm.waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id), { timeout: 2000 }).toBe('erase-confirm-h');
    expect((await confirm.textContent())?.replace(/\s+/g, ' ')).toContain(
      'Every span and log of alice@example.com in umbrella, and the other spans and logs of the same traces, are deleted; data of alice@example.com still in flight is dropped; this cannot be undone.',
    );
    await shot('erase-subject-confirm');
    // Nothing is erased before the final button.
    expect(await countRows('otel_traces', 'umbrella', alice)).toBe(n);
    expect((await c.api('GET', '/api/tenants/umbrella/erasures')).body.erasures).toEqual([]);

    await dialog.getByRole('button', { name: 'Erase alice@example.com' }).click();
    const notice = page.getByRole('status').filter({ hasText: 'Erased alice@example.com from umbrella' });
    await notice.waitFor({ timeout: 30_000 });
    await dialog.waitFor({ state: 'detached' });
    // The rows of the API's answer: the user's spans and their upstream spans, both logs of each trace.
    expect(await notice.locator('p').first().textContent()).toBe(`Erased alice@example.com from umbrella: ${fmt(2 * n)} spans, ${fmt(2 * n)} logs deleted. See it in the audit of umbrella.`);

    // In ClickHouse: alice's traces are gone, bob's are all there.
    expect(await countRows('otel_traces', 'umbrella', alice)).toBe(0);
    expect(await countRows('otel_logs', 'umbrella', "LogAttributes['user.id'] = 'alice@example.com'")).toBe(0);
    expect(await countRows('otel_traces', 'umbrella')).toBe(2 * n);
    expect(await countRows('otel_traces', 'umbrella', "SpanAttributes['user.id'] = 'bob'")).toBe(n);
    expect(await countRows('otel_logs', 'umbrella')).toBe(2 * n);
    expect(await countRows('otel_logs', 'umbrella', "LogAttributes['user.id'] = 'bob'")).toBe(n);
    const erasures = (await c.api('GET', '/api/tenants/umbrella/erasures')).body.erasures;
    expect(erasures).toHaveLength(1);
    expect(erasures[0]).toMatchObject({ actor: 'admin', scope: 'subject', subject: 'alice@example.com', reason: 'GDPR art. 17 request #88', rows: { otel_traces: 2 * n, otel_logs: 2 * n } });
  });

  it('deletes a tenant only once its id is typed: row gone, keys refused, rows deleted', async () => {
    const hooli = await c.createTenant('hooli', 'full');
    await sendPlan(hooli.ingestKey);
    const total = PLAN.reduce((s, p) => s + p.n, 0);
    expect(await eventually(async () => (await countRows('otel_traces', 'hooli')) === total, 10_000)).toBe(true);

    await page.goto(`${c.apiUrl}/ui/#/tenants`);
    await page.reload(); // the list as it is now, with hooli
    await page.locator('tr[data-tenant="hooli"]').getByRole('button', { name: 'Delete tenant of hooli' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete tenant hooli and all its data' });
    await dialog.waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id), { timeout: 2000 }).toBe('delete-reason');
    const what = await dialog.locator('#delete-what').textContent();
    for (const s of ['cannot be undone', 'ingest and query keys are revoked', 'tier', 'every row of hooli is deleted', 'Kept on purpose']) expect(what).toContain(s);

    const final = dialog.getByRole('button', { name: 'Delete hooli and all its data' });
    const typed = dialog.getByLabel('Type hooli to confirm');
    expect(await final.isDisabled()).toBe(true);
    // Preact re-renders after the input event: let a frame pass before reading the button.
    const rendered = () => page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
    for (const wrong of ['hool', 'Hooli', 'hooli ', 'acme']) {
      await typed.fill(wrong);
      await rendered();
      expect(await final.isDisabled(), wrong).toBe(true);
    }
    await typed.fill('hooli');
    await expect.poll(() => final.isEnabled(), { timeout: 2000 }).toBe(true);
    // No reason: the form does not go on.
    await final.click();
    expect(await dialog.getByLabel(/^Reason/).evaluate((el) => (el as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing)).toBe(true);
    expect((await c.api('GET', '/api/tenants/hooli')).status).toBe(200);
    await dialog.getByLabel(/^Reason/).fill('contract ended 2026-01-31');
    await shot('delete-tenant-confirm');

    await final.click();
    const notice = page.getByRole('status').filter({ hasText: 'Tenant hooli deleted' });
    await notice.waitFor({ timeout: 30_000 });
    await dialog.waitFor({ state: 'detached' });
    await page.locator('tr[data-tenant="hooli"]').waitFor({ state: 'detached' });
    await page.locator('tr[data-tenant="acme"]').waitFor();
    expect(await notice.locator('p').first().textContent()).toBe(
      `Tenant hooli deleted: its ingest and query keys are revoked, its tier is removed, ${fmt(total)} spans, 1 tier audit row, 1 tier assignment, 1 tenant record (with its key hashes) deleted. See it in the audit of hooli.`,
    );
    // What the API keeps on purpose, from its answer.
    const remains = await notice.locator('#notice-remains li').allTextContents();
    expect(remains).toHaveLength(3);
    expect(remains[0]).toMatch(/^consentry\.erasures/);
    // The notice has the focus: the button that opened the dialog is gone with its row.
    await expect.poll(() => page.evaluate(() => document.activeElement?.className), { timeout: 2000 }).toBe('notice');
    await shot('tenant-deleted');

    expect((await c.api('GET', '/api/tenants/hooli')).status).toBe(404);
    expect((await c.api('GET', '/api/tenants')).body.tenants.map((t: { id: string }) => t.id)).not.toContain('hooli');
    const ingest = await fetch(`${c.otlpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${hooli.ingestKey}` }, body: '{"resourceSpans":[]}' });
    expect(ingest.status).toBe(401);
    const query = await fetch(`${c.apiUrl}/api/query`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${hooli.queryKey}` }, body: JSON.stringify({ sql: 'SELECT 1' }) });
    expect(query.status).toBe(401);
    for (const table of ['otel_traces', 'otel_logs', 'request_summaries', 'tier_audit', 'tier_assignments']) expect(await countRows(table, 'hooli'), table).toBe(0);
    expect((await c.rows(`SELECT Id FROM consentry.tenants WHERE Id = 'hooli'`)).length).toBe(0);
    const erasures = (await c.api('GET', '/api/tenants/hooli/erasures')).body.erasures;
    expect(erasures).toMatchObject([{ actor: 'admin', scope: 'tenant', subject: '', reason: 'contract ended 2026-01-31' }]);
    expect(erasures[0].rows.otel_traces).toBe(total);
  });

  it('works from the keyboard: skip link, focus order, dialog with Escape', async () => {
    await page.goto(`${c.apiUrl}/ui/#/tenants`);
    await page.reload(); // a fresh document: focus starts at the top
    await page.locator('tr[data-tenant="acme"]').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => `${document.activeElement?.tagName}:${document.activeElement?.getAttribute('id') ?? document.activeElement?.textContent}`));
    }
    expect(order).toEqual(['A:Tenants', 'A:Dashboard', 'A:Audit', 'A:Query', 'BUTTON:Sign out', 'INPUT:new-tenant-id']);
    // The focused control has a visible outline.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).toBe('solid');
    await page.locator('tr[data-tenant="acme"]').getByRole('button', { name: /^Switch tier/ }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id), { timeout: 2000 }).toBe('switch-tier');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  });

  it('is usable on a narrow screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    // Elements reaching past the right edge (none: no sideways scrolling of the page).
    const sticking = () =>
      page.evaluate(() =>
        document.documentElement.scrollWidth <= window.innerWidth
          ? []
          : [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`).slice(0, 10),
      );
    for (const [name, hash, ready] of [
      ['tenants-narrow', '#/tenants', 'tr[data-tenant="acme"]'],
      ['dashboard-narrow', '#/dashboard/initech', '#by-model'],
      ['audit-narrow', '#/audit/acme', '#tier-audit'],
      ['query-narrow', '#/query', '#query-sql'],
    ] as const) {
      await page.goto(`${c.apiUrl}/ui/${hash}`);
      await page.locator(ready).waitFor();
      if (name === 'dashboard-narrow') await page.locator('#chart-latency .uplot').waitFor();
      expect(await sticking(), name).toEqual([]);
      await shot(name);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('signs out: the token is gone from sessionStorage', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('consentry.adminToken'))).toBeNull();
  });

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });
});
