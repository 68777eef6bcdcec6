// CONSENTRY_PRICES_FILE takes the place of the shipped price table: its
// prices and version on the dashboard; an invalid file stops the start with
// its file, line and problem.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry } from '../helpers/consentry.ts';
import { generateTraffic, sendTraffic } from './traffic.ts';
import { PriceTableError } from '../../processors/cost/prices.ts';

const START = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600;
const RANGE = `from=${START}&to=${START + 3600}&step=1h`;
const traffic = generateTraffic({ seed: 17, n: 300, startSec: START, minutes: 30 });

describe('CONSENTRY_PRICES_FILE', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'consentry-prices-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the shipped table: its prices, its version', async () => {
    const file = join(dir, 'negotiated.yaml');
    writeFileSync(
      file,
      `version: negotiated-2027
providers: { openai: [openai] }
models:
  - { provider: openai, model: gpt-4o, input: 1, output: 2, date: "2026-12-01", source: "https://example.com/contract" }
`,
    );
    const own = await startTestConsentry({ pricesFile: file });
    try {
      const k = await own.createTenant('own', 'summary');
      const reqs = traffic.filter((q) => q.model === 'gpt-4o' || q.model === 'gpt-4o-mini');
      await sendTraffic(own.otlpUrl, k.ingestKey, reqs);
      const d = (await own.api('GET', `/api/tenants/own/dashboard?${RANGE}`)).body;
      expect(d.prices).toEqual({ version: 'negotiated-2027' });
      const gpt4o = reqs.filter((q) => q.model === 'gpt-4o');
      const want = gpt4o.reduce((s, q) => s + (q.inputTokens ?? 0) * 1 + (q.outputTokens ?? 0) * 2, 0) / 1e6;
      expect(d.byModel.find((m: { model: string }) => m.model === 'gpt-4o').costUsd).toBeCloseTo(want, 9);
      // gpt-4o-mini is not in this table: unpriced.
      expect(d.byModel.find((m: { model: string }) => m.model === 'gpt-4o-mini')).toMatchObject({ costUsd: null, unpricedCalls: reqs.length - gpt4o.length });
    } finally {
      await own.close();
    }
  });

  it('an invalid file stops the start with the file, line and problem', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'version: x\nproviders: { openai: [openai] }\nmodels:\n  - { provider: openai, model: gpt-4o, input: free, output: 2, date: "2026-12-01", source: "s" }\n');
    const start = startTestConsentry({ pricesFile: file });
    await expect(start).rejects.toThrow(PriceTableError);
    await expect(start).rejects.toThrow(`${file}:4: models.0.input`);
  });
});
