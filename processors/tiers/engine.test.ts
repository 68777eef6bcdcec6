import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PROCESSORS } from '../builtin.ts';
import { scrubSecretsProcessor } from '../scrub-secrets/processor.ts';
import type { BatchContext, RecordBatch, SpanRecord } from '../../core/record.ts';
import { TEST_CTX, testBatch, testSpan } from '../testing/records.ts';
import { loadTierFiles } from './config.ts';
import { TierEngine } from './engine.ts';

const dirs = ['./builtin/', './presets/'].map((d) => fileURLToPath(new URL(d, import.meta.url)));
const drops: Array<[string, string, number]> = [];
const engine = new TierEngine({
  tiers: loadTierFiles(dirs, BUILTIN_PROCESSORS),
  factories: BUILTIN_PROCESSORS,
  env: { hmacKey: Buffer.alloc(32, 7), count: () => undefined },
  scrub: scrubSecretsProcessor(),
  onDrop: (signal, tier, n) => drops.push([signal, tier, n]),
});

const span = (i: number): SpanRecord =>
  testSpan(
    {
      'http.route': '/v1/chat/completions',
      'http.response.status_code': '200',
      'gateway.request.body': '{"messages":[]}',
      'client.address': '203.0.113.9',
      'http.request.header.authorization': 'Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD',
    },
    {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: `00000000000000${String(i).padStart(2, '0')}`,
      startTimeUnixNano: 1_763_892_000_000_000_000n,
      endTimeUnixNano: 1_763_892_000_250_000_000n,
    },
  );
const batch = (): RecordBatch => testBatch({ spans: [span(1), span(2)] });
const ctx = (tier: string): BatchContext => ({ ...TEST_CTX, tenantId: 't', tier, receivedAtMs: 1_763_892_000_000 });

describe('TierEngine', () => {
  it('lists the built-in tiers and the presets', () => {
    expect(engine.names()).toEqual(['full', 'logorhythms', 'lunar-control-plane', 'lunar-oss', 'lunogen', 'lunos', 'luntrex', 'minimal', 'summary']);
  });

  it('scrubs secrets and keeps an HMAC under full', () => {
    const out = engine.process(batch(), ctx('full'));
    expect(out.spans).toHaveLength(2);
    expect(out.spans[0]!.attributes['http.request.header.authorization']).toMatch(/^\[REDACTED:/);
    expect(out.spans[0]!.attributes['gateway.api_key.hash']).toMatch(/^[0-9a-f]{32}$/);
    expect(out.expireAt).toBe(1_763_892_000 + 30 * 86400);
  });

  it.each([
    ['minimal', false, undefined],
    ['lunar-oss', false, undefined],
    ['summary', true, 'selected'],
    ['lunar-control-plane', true, 'selected'],
    ['full', true, 'all'],
    ['lunos', true, 'all'], // hashes API keys from headers its allow-list does not name
    ['no-such-tier', false, undefined],
  ])('tells the decoder what %s reads of a span: spans %s, attributes %s', (tier, spans, attributes) => {
    const p = engine.spanProjection(tier);
    expect(p.spans).toBe(spans);
    if (attributes === 'all') expect(p.keepsAttribute).toBeUndefined();
    if (attributes === 'selected') {
      expect([p.keepsAttribute!('http.route'), p.keepsAttribute!('gen_ai.usage.input_tokens'), p.keepsAttribute!('user.id')]).toEqual([true, true, false]);
      expect([p.events, p.links]).toEqual([false, false]);
    }
  });

  it('fails closed on an unknown tier: nothing survives, and the drop is counted', () => {
    drops.length = 0;
    expect(engine.process(batch(), ctx('no-such-tier'))).toEqual({ spans: [], logs: [], summaries: [], metadata: [] });
    expect(drops).toEqual([['spans', 'no-such-tier', 2]]);
  });

  it.each([
    ['minimal', 0, 0],
    ['summary', 0, 1],
    ['lunar-control-plane', 0, 1],
    ['lunos', 2, 0],
  ])('reduces data processed under full to %s (downgrade in flight)', (tier, spans, summaries) => {
    const processed = engine.process(batch(), ctx('full'));
    const reduced = engine.reduce(processed, ctx('full'), { tier, version: 2 });
    expect(reduced.ctx).toMatchObject({ tier, tierVersion: 2 });
    expect(reduced.batch.spans).toHaveLength(spans);
    expect(reduced.batch.summaries).toHaveLength(summaries);
    expect(JSON.stringify(reduced.batch.spans.map((s) => s.attributes))).not.toContain('gateway.request.body');
  });

  it('leaves data alone on an upgrade: a record keeps the tier it was received under', () => {
    const processed = engine.process(batch(), ctx('summary'));
    const reduced = engine.reduce(processed, ctx('summary'), { tier: 'full', version: 2 });
    expect(reduced.batch).toBe(processed);
    expect(reduced.ctx.tier).toBe('summary');
  });

  it('reduces summaries made under summary to nothing under minimal', () => {
    const processed = engine.process(batch(), ctx('summary'));
    expect(processed.summaries).toHaveLength(1);
    expect(engine.reduce(processed, ctx('summary'), { tier: 'minimal', version: 3 }).batch.summaries).toEqual([]);
  });

  it('does not mutate the batch it is given', () => {
    const input = batch();
    const before = structuredClone(input);
    engine.process(input, ctx('full'));
    engine.process(input, ctx('summary'));
    expect(input).toEqual(before);
  });
});
