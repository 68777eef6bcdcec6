// The dashboard page shows cost (issue 17) in a real browser (Debian's
// Chromium through playwright-core: test/helpers/browser.ts): the total and per
// model, priced by the shipped table, a model without a price as "unknown"
// (never $0) with its calls counted, and how long the tenant's tier keeps rows
// and content. Traffic through the OTel SDK; the expected figures are
// computed here from what was sent and the published prices.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { SpanKind } from '@opentelemetry/api';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { sdkClient } from '../helpers/otel.ts';
import { collectConsoleErrors, launchChromium } from '../helpers/browser.ts';

const SHOTS = join(import.meta.dirname, '..', 'screenshots');

let c: TestConsentry;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

// Published prices (USD per million tokens, processors/cost/prices.yaml): gpt-4o 2.50 / 10, gpt-4o-mini 0.15 / 0.60.
const PLAN = [
  { model: 'gpt-4o-2024-08-06', n: 6, inTok: 1000, outTok: 200, usd: (1000 * 2.5 + 200 * 10) / 1e6 },
  { model: 'gpt-4o-mini', n: 10, inTok: 20_000, outTok: 5_000, usd: (20_000 * 0.15 + 5_000 * 0.6) / 1e6 },
  { model: 'house-model-7b', n: 4, inTok: 300, outTok: 30, usd: null },
];
const usd = (v: number) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  c = await startTestConsentry();
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' })).newPage();
  collectConsoleErrors(page, consoleErrors);

  const k = await c.createTenant('shop', 'lunogen');
  const client = sdkClient({ otlpUrl: c.otlpUrl, ingestKey: k.ingestKey, encoding: 'proto', resource: { 'service.name': 'ui-cost-gateway' } });
  const tracer = client.tracerProvider.getTracer('gateway');
  const start = Date.now() - 30 * 60_000;
  for (const p of PLAN) {
    for (let i = 0; i < p.n; i++) {
      const t = start + i * 60_000;
      const span = tracer.startSpan('POST /v1/chat/completions', {
        kind: SpanKind.SERVER,
        startTime: t,
        attributes: {
          'http.route': '/v1/chat/completions',
          'http.response.status_code': 200,
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': p.model,
          'gen_ai.usage.input_tokens': p.inTok,
          'gen_ai.usage.output_tokens': p.outTok,
          'gateway.request.body': '{"messages":[]}',
        },
      });
      span.end(t + 200);
    }
  }
  await client.flush();
  await client.shutdown();
  const total = PLAN.reduce((s, p) => s + p.n, 0);
  expect(await eventually(async () => (await c.api('GET', '/api/tenants/shop/dashboard')).body?.totals?.calls === total, 10_000)).toBe(true);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await c?.close();
});

describe('dashboard page: cost', () => {
  it('shows the total cost, the calls without a price, and the cost per model; an unpriced model is unknown, not $0', async () => {
    await page.goto(`${c.apiUrl}/ui/`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    await page.goto(`${c.apiUrl}/ui/#/dashboard/shop`);
    await page.locator('#totals').waitFor();

    const priced = PLAN.reduce((s, p) => s + p.n * (p.usd ?? 0), 0);
    await expect(page.locator('[data-stat="cost"] dd').textContent()).resolves.toBe(usd(priced));
    await expect(page.locator('[data-stat="unpriced-calls"] dd').textContent()).resolves.toBe('4');
    for (const p of PLAN) {
      const row = page.locator(`#by-model tr[data-key="${p.model}"]`);
      await expect(row.locator('[data-col="cost"]').textContent()).resolves.toBe(p.usd === null ? 'unknown' : usd(p.n * p.usd));
      await expect(row.locator('[data-col="unpriced-calls"]').textContent()).resolves.toBe(p.usd === null ? String(p.n) : '0');
    }
    await expect(page.locator('#by-model-h').textContent()).resolves.toBe('Tokens and cost per model');
    await expect(page.getByText(/price table of 2026-12-06/).count()).resolves.toBe(1);
    // How long the tier keeps rows and content, on the same page.
    await expect(page.locator('#dash-retention').textContent()).resolves.toMatch(/kept without expiry; its content .* deleted 30 days after receipt/);
    await page.screenshot({ path: join(SHOTS, 'dashboard-cost.png'), fullPage: true });
  });

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });
});
