// The request explorer in a real browser (Debian's Chromium through
// playwright-core, as test/ui/console.test.ts) against a real in-process
// Consentry fed by the OTel SDK: the list newest first with the model and
// tokens of each request's LLM calls, pages, filters, one request opened by
// keyboard with its bodies as stored (the secret's marker, never the secret),
// headers, timing and trace; usage per end user; a tier that keeps no
// requests; a narrow screen; no console errors. The page with a request open
// goes to docs/explorer.png for the README (when missing, or again with
// UPDATE_DOCS_SCREENSHOT=1).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode, context as otelContext, trace } from '@opentelemetry/api';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { sdkClient } from '../helpers/otel.ts';
import { collectConsoleErrors, focusedRow, launchChromium, stickingOut, type PageElement } from '../helpers/browser.ts';

declare const document: { activeElement: { id: string } | null };

const ROOT = join(import.meta.dirname, '..', '..');
const SHOTS = join(ROOT, 'test', 'screenshots');
const OPENAI_KEY = `sk-proj-${'Ab1x'.repeat(12)}`;

let c: TestConsentry;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

interface Sent {
  traceId: string;
  spanId: string;
  start: number;
  route: string;
  status: number;
  user: string;
  models: string[];
  inTok: number;
  outTok: number;
  secret: boolean;
}
const sent: Sent[] = [];
const N = 64;
const ROUTES = ['/v1/chat/completions', '/v1/embeddings', '/v1/messages'];
const USERS = ['user-a', 'user-b', 'user-c'];

/** N gateway requests over the last two hours: a SERVER span, its upstream LLM calls (two when the first fails), a log line. */
async function sendTraffic(ingestKey: string): Promise<void> {
  const client = sdkClient({ otlpUrl: c.otlpUrl, ingestKey, encoding: 'proto', resource: { 'service.name': 'llm-gateway' } });
  const tracer = client.tracerProvider.getTracer('gateway');
  const logger = client.loggerProvider.getLogger('gateway');
  const t0 = Date.now() - 2 * 3600_000;
  for (let i = 0; i < N; i++) {
    const start = t0 + i * 100_000 + (i % 7) * 1000;
    const route = ROUTES[i % 3]!;
    const retry = i % 5 === 0;
    const status = i % 9 === 4 ? 502 : 200;
    const user = USERS[i % 3]!;
    const secret = i === N - 3;
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: secret ? `use key ${OPENAI_KEY} to call the API` : `question ${i}` }] });
    const server = tracer.startSpan(`POST ${route}`, {
      kind: SpanKind.SERVER,
      startTime: start,
      attributes: {
        'http.request.method': 'POST',
        'http.route': route,
        'http.response.status_code': status,
        'user.id': user,
        'gateway.request.body': body,
        'gateway.response.body': JSON.stringify({ choices: [{ message: { content: `answer ${i}` } }] }),
        'http.request.header.content-type': 'application/json',
        'http.request.header.x-request-id': `req-${i}`,
      },
    });
    if (status >= 500) server.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream 502' });
    const ctx = trace.setSpan(otelContext.active(), server);
    const models = retry ? ['gpt-4o', 'gpt-4o-mini'] : [i % 2 === 0 ? 'gpt-4o' : 'claude-3-5-haiku'];
    let inTok = 0;
    let outTok = 0;
    models.forEach((model, k) => {
      const call = tracer.startSpan(`chat ${model}`, {
        kind: SpanKind.CLIENT,
        startTime: start + 5 + k * 300,
        attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': model.startsWith('claude') ? 'anthropic' : 'openai', 'gen_ai.request.model': model, 'gen_ai.usage.input_tokens': 100 + i, 'gen_ai.usage.output_tokens': 10 + k },
      }, ctx);
      if (retry && k === 0) call.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
      call.end(start + 5 + k * 300 + 250);
      inTok += 100 + i;
      outTok += 10 + k;
    });
    logger.emit({ timestamp: start + 600, body: `request ${i} answered ${status}`, attributes: { 'http.route': route }, context: ctx });
    server.end(start + 700);
    sent.push({ traceId: server.spanContext().traceId, spanId: server.spanContext().spanId, start, route, status, user, models, inTok, outTok, secret });
  }
  await client.flush();
  await client.shutdown();
}

const newestFirst = () => [...sent].sort((a, b) => b.start - a.start);
const fmt = (n: number) => new Intl.NumberFormat('en-US').format(n);
const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const rows = () => page.locator('#requests-table tbody tr');
const active = () => focusedRow(page);

beforeAll(async () => {
  browser = await launchChromium();
  mkdirSync(SHOTS, { recursive: true });
  c = await startTestConsentry();
  const acme = await c.createTenant('acme', 'full');
  const quiet = await c.createTenant('quiet', 'minimal');
  await sendTraffic(acme.ingestKey);
  await sendTraffic(quiet.ingestKey);
  const spans = N * 2 + sent.filter((s) => s.models.length === 2).length / 2;
  expect(await eventually(async () => Number((await c.rows<{ n: string }>(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = 'acme'`))[0]?.n) === spans, 10_000)).toBe(true);
  sent.splice(N); // the quiet tenant's requests are not listed anywhere
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
  page = await context.newPage();
  collectConsoleErrors(page, consoleErrors);
  await page.goto(`${c.apiUrl}/ui/`);
  await page.getByLabel('Operator or admin token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await c?.close();
});

describe('request explorer', () => {
  it('lists the newest requests first, with the models and tokens of their LLM calls', async () => {
    await page.locator('tr[data-tenant="acme"]').getByRole('link', { name: 'Requests of acme' }).click();
    await page.locator('#requests-table').waitFor();
    expect(await rows().count()).toBe(50);
    expect(await page.locator('#requests-status').textContent()).toMatch(/^\s*Requests 1–50 · /);
    const want = newestFirst().slice(0, 50);
    expect(await rows().evaluateAll((trs) => trs.map((tr) => (tr as unknown as PageElement).getAttribute('data-span')))).toEqual(want.map((s) => s.spanId));
    for (const [i, s] of want.slice(0, 6).entries()) {
      const row = rows().nth(i);
      expect(await row.locator('[data-col="model"]').textContent()).toContain(s.models.join(', '));
      expect(await row.locator('[data-col="tokens"]').textContent()).toBe(`${fmt(s.inTok)} / ${fmt(s.outTok)}`);
      expect(await row.locator('[data-col="user"]').textContent()).toBe(s.user);
      expect(await row.locator('[data-col="status"]').textContent()).toBe(String(s.status));
    }
    await shot('requests');
  });

  it('pages: Older shows the rest, Newer the first page again', async () => {
    await page.getByRole('button', { name: 'Older' }).click();
    await page.locator('#requests-status', { hasText: 'Requests 51–64' }).waitFor();
    expect(await rows().count()).toBe(N - 50);
    expect(await rows().first().getAttribute('data-span')).toBe(newestFirst()[50]!.spanId);
    // Focus moves to the first request of the new page.
    expect(await active()).toBe(newestFirst()[50]!.spanId);
    expect(await page.getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Newer' }).click();
    await page.locator('#requests-status', { hasText: 'Requests 1–50' }).waitFor();
    expect(await rows().first().getAttribute('data-span')).toBe(newestFirst()[0]!.spanId);
    expect(await page.getByRole('button', { name: 'Newer' }).isDisabled()).toBe(true);
  });

  it('filters by model and status, kept in the URL', async () => {
    await page.getByLabel('Model').fill('gpt-4o-mini');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.waitForURL(/model=gpt-4o-mini/);
    const mini = newestFirst().filter((s) => s.models.includes('gpt-4o-mini'));
    await page.locator('#requests-status', { hasText: `Requests 1–${mini.length} ` }).waitFor();
    expect(await rows().evaluateAll((trs) => trs.map((tr) => (tr as unknown as PageElement).getAttribute('data-span')))).toEqual(mini.map((s) => s.spanId));
    await page.getByLabel('Model').fill('');
    await page.getByLabel('Status').selectOption('5xx');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.waitForURL(/status=5xx/);
    const failed = newestFirst().filter((s) => s.status >= 500);
    await page.locator('#requests-status', { hasText: `Requests 1–${failed.length} ` }).waitFor();
    expect(await rows().evaluateAll((trs) => trs.map((tr) => (tr as unknown as PageElement).getAttribute('data-span')))).toEqual(failed.map((s) => s.spanId));
    await shot('requests-filtered');
    await page.getByRole('link', { name: 'Clear filters' }).click();
    await page.locator('#requests-status', { hasText: 'Requests 1–50' }).waitFor();
  });

  it('is navigable by keyboard: one tab stop, arrows, Home and End, Enter opens, Escape returns', async () => {
    const list = newestFirst().slice(0, 50);
    await rows().first().locator('button.row-open').focus();
    // The list is one tab stop: the other rows are out of the tab order.
    expect(await page.locator('#requests-table button.row-open[tabindex="0"]').count()).toBe(1);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    expect(await active()).toBe(list[2]!.spanId);
    await page.keyboard.press('End');
    expect(await active()).toBe(list[49]!.spanId);
    await page.keyboard.press('Home');
    expect(await active()).toBe(list[0]!.spanId);
    await page.keyboard.press('ArrowUp'); // nothing above the first
    expect(await active()).toBe(list[0]!.spanId);
    const target = list.findIndex((s) => s.secret);
    for (let i = 0; i < target; i++) await page.keyboard.press('ArrowDown');
    expect(await active()).toBe(list[target]!.spanId);
    expect(await page.locator('#requests-table button.row-open[tabindex="0"]').getAttribute('data-index')).toBe(String(target));
    await page.keyboard.press('Enter');
    const detail = page.locator('#request-detail');
    await detail.locator('#request-facts').waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id), { timeout: 2000 }).toBe('request-h');
    expect(await rows().nth(target).getAttribute('aria-current')).toBe('true');
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'detached' });
    await expect.poll(active, { timeout: 2000 }).toBe(list[target]!.spanId);
  });

  it('opens a request: body as stored with the secret marker, headers, timing, the trace as a tree, its log', async () => {
    const s = newestFirst().find((x) => x.secret)!;
    await page.locator(`tr[data-span="${s.spanId}"] button.row-open`).click();
    const detail = page.locator('#request-detail');
    await detail.locator('#request-facts').waitFor();
    expect(await detail.locator('#request-h').textContent()).toBe(`POST ${s.route}`);
    // The README's picture: the list with a request open beside it (written when missing or asked for, so a test run leaves the work tree clean).
    const docShot = join(ROOT, 'docs', 'explorer.png');
    if (!existsSync(docShot) || process.env['UPDATE_DOCS_SCREENSHOT'] === '1') await page.screenshot({ path: docShot });

    expect(await detail.locator('#request-facts').textContent()).toContain('700 ms');
    const body = detail.locator('pre.body').first();
    expect(await body.textContent()).toContain('use key [REDACTED:openai-key] (a secret was removed here) to call the API');
    expect(await body.locator('mark.secret').textContent()).toBe('[REDACTED:openai-key] (a secret was removed here)');
    expect(await page.content()).not.toContain(OPENAI_KEY);
    // Bodies pretty-printed from JSON.
    expect(await body.textContent()).toContain('"messages": [');
    expect(await detail.locator('#attrs-headers').textContent()).toContain('http.request.header.x-request-id');
    expect(await detail.locator('#attrs-headers').textContent()).toContain(`req-${sent.indexOf(s)}`);
    // The trace: the request, then its calls one level below.
    const spans = detail.locator('#waterfall > li');
    expect(await spans.count()).toBe(1 + s.models.length);
    expect(await spans.evaluateAll((lis) => lis.map((li) => (li as unknown as PageElement).getAttribute('data-depth')))).toEqual(['0', ...s.models.map(() => '1')]);
    expect(await spans.nth(0).getAttribute('aria-current')).toBe('true');
    expect(await spans.nth(1).textContent()).toContain(`chat ${s.models[0]}`);
    expect(await spans.nth(1).textContent()).toContain('LLM call');
    expect(await spans.nth(1).textContent()).toContain('starts at +5.0 ms, takes 250 ms');
    // A span's attributes open from the keyboard.
    await spans.nth(1).locator('summary').focus();
    await page.keyboard.press('Enter');
    expect(await spans.nth(1).locator('dl.kv').textContent()).toContain('gen_ai.usage.input_tokens');
    expect(await detail.locator('#trace-logs').textContent()).toContain(`request ${sent.indexOf(s)} answered ${s.status}`);
    await page.screenshot({ path: join(SHOTS, 'request-open.png'), fullPage: true });
    await detail.getByRole('button', { name: 'Back to the list' }).click();
    await expect.poll(active, { timeout: 2000 }).toBe(s.spanId);
  });

  it('shows usage per end user; a user opens their requests', async () => {
    const table = page.locator('#end-users-table');
    await table.waitFor();
    for (const u of USERS) {
      const mine = sent.filter((s) => s.user === u);
      const row = table.locator(`tr[data-user="${u}"]`);
      expect(await row.locator('[data-col="requests"]').textContent()).toBe(fmt(mine.length));
      expect(await row.locator('[data-col="calls"]').textContent()).toBe(fmt(mine.reduce((n, s) => n + s.models.length, 0)));
      expect(await row.locator('[data-col="input-tokens"]').textContent()).toBe(fmt(mine.reduce((n, s) => n + s.inTok, 0)));
      expect(await row.locator('[data-col="errors"]').textContent()).toBe(fmt(mine.filter((s) => s.status >= 500).length));
    }
    await table.getByRole('link', { name: /^user-b/ }).click();
    await page.waitForURL(/user=user-b/);
    const mine = newestFirst().filter((s) => s.user === 'user-b');
    await page.locator('#requests-status', { hasText: `Requests 1–${mine.length} ` }).waitFor();
    expect(await rows().evaluateAll((trs) => trs.map((tr) => (tr as unknown as PageElement).getAttribute('data-span')))).toEqual(mine.map((s) => s.spanId));
  });

  it('says why a tenant on a tier without requests has none', async () => {
    await page.locator('#tenant-pick').selectOption('quiet');
    const none = page.locator('#no-requests');
    await none.waitFor();
    expect(await none.getByRole('heading').textContent()).toBe('No individual requests by consent');
    expect(await none.textContent()).toContain('tier "minimal" keeps no request data, no individual requests, by consent');
    expect(await page.locator('#requests-status').textContent()).toMatch(/No requests match/);
    expect(await page.locator('#no-end-users').textContent()).toContain('keeps no end-user ids (user.id) by consent');
    await shot('requests-minimal');
  });

  it('is usable on a narrow screen, with a request open', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${c.apiUrl}/ui/#/requests/acme`);
    await page.locator('#requests-table').waitFor();
    await rows().first().locator('button.row-open').click();
    await page.locator('#request-facts').waitFor();
    expect(await stickingOut(page)).toEqual([]);
    await shot('request-open-narrow');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });
});
