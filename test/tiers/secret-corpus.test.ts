// Hundreds of planted secrets of every kind, in every position a record can
// carry them, sent over OTLP to every tier: none may be found in any String or
// Map column of any table afterwards.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allStrings, secretCorpus, SECRET_KINDS } from '../../processors/scrub-secrets/corpus.ts';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { logsJson, tracesJson } from '../helpers/otlp-json.ts';

const corpus = secretCorpus(7, 8);
const TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata'];
const TIERS = ['minimal', 'summary', 'full', 'lunar-oss', 'lunar-control-plane', 'lunos', 'logorhythms', 'luntrex', 'lunogen', 'env-everything'];

let c: TestConsentry;
beforeAll(async () => {
  c = await startTestConsentry({ tiersDir: fileURLToPath(new URL('../fixtures/tiers/', import.meta.url)) });
});
afterAll(async () => c?.close());

/** Every string in stored rows: values, map keys and values, array items. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) {
      out.push(k);
      strings(x, out);
    }
  return out;
}

/** The secret and windows of it long enough to be telling (16 characters, not found in the fixture's own text). */
function needles(mustVanish: string): string[] {
  const out = [mustVanish];
  for (let i = 0; i + 16 <= mustVanish.length; i += 8) {
    const w = mustVanish.slice(i, i + 16);
    if (!corpus.contextText.includes(w)) out.push(w);
  }
  return out;
}

it('plants at least 200 distinct secrets of at least 15 kinds', () => {
  expect(new Set(corpus.planted.map((p) => p.secret)).size).toBeGreaterThanOrEqual(200);
  expect(new Set(corpus.planted.map((p) => p.kind)).size).toBeGreaterThanOrEqual(15);
  expect(SECRET_KINDS.length).toBeGreaterThanOrEqual(15);
  expect(new Set(corpus.planted.map((p) => p.placement)).size).toBeGreaterThanOrEqual(30);
});

it('the leak search finds every secret in the corpus as sent (it can fail)', () => {
  const missed = corpus.planted.filter((p) => !needles(p.mustVanish).some((n) => allStrings(corpus.batches[p.request]!).join('\u0001').includes(n)));
  expect(missed).toEqual([]);
});

const post = (path: string, ingestKey: string, body: string) =>
  fetch(`${c.otlpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' }, body });

describe.each(TIERS)('tier %s', (tier) => {
  it('stores none of the planted secrets', async () => {
    const tenant = `corpus-${tier}`;
    const { ingestKey } = await c.createTenant(tenant, tier);
    for (let i = 0; i < corpus.batches.length; i += 40) {
      const part = corpus.batches.slice(i, i + 40);
      for (const [path, body] of [
        ['/v1/traces', tracesJson(part)],
        ['/v1/logs', logsJson(part)],
      ] as const) {
        // As an exporter does: a 429 (the collector is behind, on a loaded machine) is sent again after Retry-After.
        let res = await post(path, ingestKey, body);
        for (let again = 0; res.status === 429 && again < 20; again++) {
          await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000));
          res = await post(path, ingestKey, body);
        }
        expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
      }
    }
    const stored: string[] = [];
    let rows = 0;
    for (const t of TABLES) {
      const r = await c.rows(`SELECT * FROM consentry.${t} WHERE TenantId = '${tenant}'`);
      rows += r.length;
      strings(r, stored);
    }
    expect(rows, 'something was stored').toBeGreaterThan(0);
    const text = stored.join('\u0001');
    const leaks = corpus.planted.filter((p) => needles(p.mustVanish).some((n) => text.includes(n)));
    expect(leaks.map((p) => `${p.kind} in ${p.placement}`)).toEqual([]);
  });
});
